import Foundation
import Logging
import MCP
import WasmSandbox

/// The Streamable HTTP sessions of one endpoint: an MCP server and transport per session,
/// created by an `initialize` request and found again by the `Mcp-Session-Id` header.
///
/// Sessions are bounded: at most `maxSessions` exist (at the cap, `initialize` closes the
/// least-recently-used idle session of the client holding the most, or is refused when all
/// are busy), and an authenticated client holds at most its `sessions` quota; a session without
/// requests or open streams for `idleTimeout` is closed by a timer (``expireIdleSessions()``);
/// a `GET` event stream is closed after `eventStreamLifetime`, one per session at a time.
actor MCPSessions {
    private struct Session {
        let server: Server
        let transport: StatefulHTTPServerTransport
        let shortcut: ToolCallShortcut
        /// The client that opened it: only that client's requests reach it.
        let client: String
        var lastUsed: ContinuousClock.Instant
        /// Response streams being relayed (POST calls and the GET stream); a session with any is busy.
        var streams = 0
        var eventStreams = 0
    }

    private let service: SandboxMCPServer
    private let logger: Logger
    private let maxSessions: Int
    private let idleTimeout: Duration
    private let eventStreamLifetime: Duration
    private var sessions: [String: Session] = [:]
    /// Set when the server drains: no new session opens.
    private var draining = false
    /// Sessions being opened, by client and in all: counted against the caps while the
    /// opening waits.
    private var opening: [String: Int] = [:]
    private var openingTotal = 0

    init(
        service: SandboxMCPServer, logger: Logger, maxSessions: Int = 256, idleTimeout: Duration = .seconds(3600),
        eventStreamLifetime: Duration = .seconds(300)
    ) {
        self.service = service
        self.logger = logger
        self.maxSessions = maxSessions
        self.idleTimeout = idleTimeout
        self.eventStreamLifetime = eventStreamLifetime
    }

    /// Answers one request of `client` (its name from its token; `anonymous` without
    /// authentication). A session opened by another client is answered as one that does not
    /// exist.
    func handle(_ request: HTTPRequest, client: String = "anonymous", authenticated: Bool = false) async
        -> HTTPResponse
    {
        let id = request.header(HTTPHeaderName.sessionID)
        let method = request.method.uppercased()
        if let id, let other = sessions[id], other.client != client {
            service.audit.authFailure(.sessionOfAnotherClient, path: request.path ?? "/mcp", client: client)
        }
        if let id, var session = sessions[id], session.client == client {
            session.lastUsed = .now
            sessions[id] = session
            if method == "GET", session.eventStreams > 0 {
                return .error(
                    statusCode: 409, .invalidRequest("Conflict: this session already has an open GET event stream"),
                    sessionID: id)
            }
            if method == "POST", let answer = Self.shortcut(request, session: session, id: id) {
                return track(answer, session: id, isEventStream: false)
            }
            let response = await session.transport.handleRequest(request)
            if method == "DELETE", response.statusCode == 200 {
                await close(id)
            }
            return track(response, session: id, isEventStream: method == "GET")
        }
        if id == nil, method == "POST", let body = request.body, Self.isInitialize(body) {
            return await open(request, client: client, authenticated: authenticated)
        }
        if id != nil {
            return .error(
                statusCode: 404,
                .invalidRequest(
                    "Not Found: no such session (it expired, was closed, or its server went away): start a new one with initialize"
                ))
        }
        return .error(statusCode: 400, .invalidRequest("Bad Request: missing \(HTTPHeaderName.sessionID) header"))
    }

    /// Cancels a call whose client went away, as if the client had sent
    /// `notifications/cancelled`: its run is stopped and its slot freed.
    func cancel(session id: String, requestID: ID) async {
        if let session = sessions[id], session.shortcut.cancel(requestID) { return }
        guard let session = sessions[id],
            let body = try? JSONEncoder().encode(
                CancelledNotification.message(.init(requestId: requestID, reason: "the client disconnected")))
        else { return }
        let request = HTTPRequest(
            method: "POST",
            headers: [
                HTTPHeaderName.sessionID: id, HTTPHeaderName.contentType: "application/json",
                HTTPHeaderName.accept: "application/json, text/event-stream",
                HTTPHeaderName.protocolVersion: Version.latest,
            ], body: body)
        _ = await session.transport.handleRequest(request)
        logger.debug("cancelled a call whose client disconnected", metadata: ["session": "\(id)"])
    }

    /// Ends every session; their servers stop and their runs are cancelled with them.
    func closeAll() async {
        for id in Array(sessions.keys) { await close(id) }
    }

    var count: Int { sessions.count }

    /// Closes the sessions idle for longer than the idle timeout: no open stream, and no
    /// request since. Called on a timer, so that sessions expire without further traffic.
    func expireIdleSessions() async {
        let now = ContinuousClock.now
        for (id, session) in sessions where session.streams == 0 && now - session.lastUsed > idleTimeout {
            logger.debug("session expired", metadata: ["session": "\(id)"])
            await close(id)
        }
    }

    /// How often ``expireIdleSessions()`` should run: often enough that a session outlives its
    /// idle timeout by at most a quarter of it (and 30 s).
    var expiryInterval: Duration { max(min(idleTimeout / 4, .seconds(30)), .milliseconds(10)) }

    /// Refuses new sessions from now on; the open ones go on until the server closes them.
    func startDraining() { draining = true }

    private func open(_ request: HTTPRequest, client: String, authenticated: Bool) async -> HTTPResponse {
        guard !draining else {
            return .error(
                statusCode: 503,
                .invalidRequest("Service Unavailable: this server is shutting down; start the session on another one"))
        }
        // Room for the new session is made and taken before anything else waits: the actor
        // runs other requests during each wait, and concurrent opens must not all pass.
        let quota = authenticated ? service.quotas.limits(for: client)?.sessions : nil
        while true {
            let own = held(by: client)
            if let quota, own >= quota {
                let idle = sessions.filter { $0.value.client == client && $0.value.streams == 0 }
                guard let oldest = idle.min(by: { $0.value.lastUsed < $1.value.lastUsed })?.key else {
                    return .error(
                        statusCode: 429,
                        .invalidRequest(
                            "Too Many Requests: client quota 'sessions' (\(quota)) is used up and every one of its sessions is busy: close one (DELETE) or wait; other clients are not affected"
                        ))
                }
                logger.info(
                    "closing the client's least recently used idle session: at its quota",
                    metadata: ["session": "\(oldest)", "client": "\(client)"])
                await close(oldest)
                continue
            }
            guard sessions.count + openingTotal >= maxSessions else { break }
            // At the server's cap the sessions of the biggest holder go first, or the client's
            // own; never those of a client holding fewer.
            let holdings = sessions.values.reduce(into: opening) { $0[$1.client, default: 0] += 1 }
            let idle = sessions.filter { $0.value.streams == 0 }.map {
                (item: $0.key, owner: $0.value.client, lastUsed: $0.value.lastUsed)
            }
            guard let victim = FairEviction.victim(for: client, holdings: holdings, idle: idle) else {
                return .error(
                    statusCode: 503,
                    .invalidRequest(
                        "Service Unavailable: all \(maxSessions) MCP sessions are busy or held by clients with fewer; try again later"
                    ))
            }
            logger.info("closing an idle session: at the cap", metadata: ["session": "\(victim)"])
            await close(victim)
        }
        opening[client, default: 0] += 1
        openingTotal += 1
        let id = UUID().uuidString
        let transport = StatefulHTTPServerTransport(
            sessionIDGenerator: FixedSessionID(id: id), logger: logger)
        let server: Server
        let connection = SandboxMCPServer.Connection(
            sandbox: service.sandbox,
            caller: AuditLog.Caller(client: client, session: id, authenticated: authenticated))
        do {
            server = try await service.startServer(transport: transport, connection: connection)
        } catch {
            doneOpening(client)
            return .error(statusCode: 500, .internalError("cannot start a session: \(error)"))
        }
        let shortcut = ToolCallShortcut(service: service, connection: connection) { _ in }
        sessions[id] = Session(
            server: server, transport: transport, shortcut: shortcut, client: client, lastUsed: .now)
        doneOpening(client)
        logger.debug("session opened", metadata: ["session": "\(id)"])
        let response = await transport.handleRequest(request)
        if response.statusCode >= 400 {
            await close(id)
            return response
        }
        return track(response, session: id, isEventStream: false)
    }

    private func doneOpening(_ client: String) {
        opening[client, default: 1] -= 1
        if opening[client] == 0 { opening[client] = nil }
        openingTotal -= 1
    }

    /// The sessions `client` holds and is opening.
    private func held(by client: String) -> Int {
        sessions.values.reduce(opening[client] ?? 0) { $0 + ($1.client == client ? 1 : 0) }
    }

    /// Counts a streamed response against its session while it is relayed, so that a busy
    /// session is neither expired nor evicted; a `GET` event stream also ends after its
    /// lifetime, since an idle client could otherwise hold it (and its connection) forever.
    private func track(_ response: HTTPResponse, session id: String, isEventStream: Bool) -> HTTPResponse {
        guard case .stream(let stream, let headers) = response, sessions[id] != nil else { return response }
        sessions[id]?.streams += 1
        if isEventStream { sessions[id]?.eventStreams += 1 }
        let (relay, continuation) = AsyncThrowingStream<Data, any Error>.makeStream()
        let pump = Task {
            do {
                for try await chunk in stream { continuation.yield(chunk) }
                continuation.finish()
            } catch {
                continuation.finish(throwing: error)
            }
        }
        let lifetime = eventStreamLifetime
        let expiry =
            isEventStream
            ? Task {
                try await Task.sleep(for: lifetime)
                continuation.finish()
            } : nil
        continuation.onTermination = { _ in
            pump.cancel()
            expiry?.cancel()
            Task { await self.streamEnded(session: id, isEventStream: isEventStream) }
        }
        return .stream(relay, headers: headers)
    }

    private func streamEnded(session id: String, isEventStream: Bool) {
        guard var session = sessions[id] else { return }
        session.streams -= 1
        if isEventStream { session.eventStreams -= 1 }
        session.lastUsed = .now
        sessions[id] = session
    }

    private func close(_ id: String) async {
        guard let session = sessions.removeValue(forKey: id) else { return }
        // The calls its shortcut runs go with it, as the SDK's go with its server.
        session.shortcut.cancelAll()
        await session.server.stop()
        await service.connectionClosed(session.server)
        await session.transport.disconnect()
        logger.debug("session closed", metadata: ["session": "\(id)"])
    }

    /// The answer to a `tools/call` or `ping` POST from the session's ``ToolCallShortcut``: a
    /// ping as plain JSON, a call on an event stream, as the SDK's transport answers (the
    /// server's heartbeat on it is how a client that went away is noticed, and its call
    /// cancelled). `nil` leaves the request to the SDK's transport: anything else, and any
    /// request whose headers that transport would refuse, so that it says why.
    private static func shortcut(_ request: HTTPRequest, session: Session, id: String) -> HTTPResponse? {
        guard let body = request.body,
            request.header(HTTPHeaderName.contentType)?.lowercased().hasPrefix("application/json") == true,
            let accept = request.header(HTTPHeaderName.accept)?.lowercased(),
            accept.contains("application/json"), accept.contains("text/event-stream") || accept.contains("*/*"),
            request.header(HTTPHeaderName.protocolVersion).map(Version.supported.contains) ?? true
        else { return nil }
        let (stream, continuation) = AsyncThrowingStream<Data, any Error>.makeStream()
        let outcome = session.shortcut.handle(body, progressGoesOut: false) { answer in
            if let answer {
                var event = Data("event: message\ndata: ".utf8)
                event.append(answer)
                event.append(contentsOf: Array("\n\n".utf8))
                continuation.yield(event)
            }
            continuation.finish()
        }
        switch outcome {
        case .notMine: return nil
        case .answer(let data):
            return .data(data, headers: [HTTPHeaderName.contentType: "application/json", HTTPHeaderName.sessionID: id])
        case .noAnswer: return .accepted(headers: [HTTPHeaderName.sessionID: id])
        case .started:
            return .stream(
                stream,
                headers: [
                    HTTPHeaderName.contentType: "text/event-stream", "Cache-Control": "no-cache",
                    HTTPHeaderName.sessionID: id,
                ])
        }
    }

    /// Whether a POST body is an `initialize` request, the only one that may open a session.
    private static func isInitialize(_ body: Data) -> Bool {
        let message = try? JSONSerialization.jsonObject(with: body) as? [String: Any]
        return message?["method"] as? String == "initialize" && message?["id"] != nil
    }

    private struct FixedSessionID: SessionIDGenerator {
        let id: String
        func generateSessionID() -> String { id }
    }
}
