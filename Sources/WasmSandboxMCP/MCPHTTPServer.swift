import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdCore
import Logging
import MCP
import NIOCore
import NIOHTTPTypes
import Prometheus
import ServiceLifecycle
import Synchronization
import UnixSignals

/// MCP's Streamable HTTP transport on Hummingbird, at `/mcp`, with `GET /health` (the canary)
/// and `GET /metrics` (Prometheus text from the registry the process bootstrapped).
///
/// With a tokens file (``MCPServerConfiguration/authTokensFile``) every `/mcp` request needs
/// a client's bearer token (``HTTPAuthentication``), reloaded on SIGHUP; without one, only a
/// loopback address is served unless ``MCPServerConfiguration/allowUnauthenticated``.
/// `/health` and the OAuth resource metadata stay open.
///
/// Slow and idle clients are bounded by the service's configuration: an idle timeout (which
/// also closes a connection stuck in its request head), a deadline for each whole request, a
/// cap on open connections (further clients wait in the listen backlog), a cap on sessions with
/// idle expiry on a timer, and a lifetime for `GET` event streams.
public struct MCPHTTPServer: Sendable {
    public let service: SandboxMCPServer
    public let host: String
    public let port: Int
    public let prometheus: PrometheusCollectorRegistry?
    let logger: Logger
    let sessions: MCPSessions
    let connections = ConnectionCount()
    /// Set on SIGTERM: the health check fails and new MCP sessions are refused while the calls
    /// in flight finish, so that a load balancer moves traffic away before the process ends.
    let draining = DrainFlag()
    let authentication: HTTPAuthentication

    /// Reads the tokens files; an error names the file and the line that cannot be used.
    public init(
        service: SandboxMCPServer, host: String, port: Int, prometheus: PrometheusCollectorRegistry?, logger: Logger
    ) throws {
        self.service = service
        self.host = host
        self.port = port
        self.prometheus = prometheus
        self.logger = logger
        let configuration = service.configuration
        self.sessions = MCPSessions(
            service: service, logger: logger, maxSessions: configuration.maxSessions,
            idleTimeout: .seconds(configuration.sessionIdleTimeoutSeconds),
            eventStreamLifetime: .seconds(configuration.httpEventStreamSeconds))
        authentication = try HTTPAuthentication(
            configuration: configuration, quotas: service.quotas, audit: service.audit)
    }

    /// Reads the tokens files again, as SIGHUP does, and says what they hold. Open sessions
    /// stay; a client whose token is gone is refused from its next request. When a file
    /// cannot be used the error says why and the tokens stay as they were.
    @discardableResult
    public func reloadTokens() throws -> String { try authentication.reload() }

    /// Whether the server may listen on `host` as configured: an address other clients can
    /// reach needs tokens, or the explicit choice to serve without them.
    func checkExposure() throws {
        guard !authentication.isEnabled, !Self.isLoopback(host) else { return }
        guard service.configuration.allowUnauthenticated else {
            throw ConfigurationError(
                "refusing to serve \(host) without authentication: anyone who reaches it could run code. Give a tokens file (--auth-tokens FILE or MCP_SANDBOX_AUTH_TOKENS; 'wasm-sandbox token NAME' makes a line), listen on 127.0.0.1, or pass --allow-unauthenticated"
            )
        }
        logger.warning(
            "serving \(host) WITHOUT authentication (--allow-unauthenticated): anyone who reaches this port can run code"
        )
    }

    /// Loopback names and addresses: `localhost`, 127.0.0.0/8 and `::1`.
    public static func isLoopback(_ host: String) -> Bool {
        let bare = host.hasPrefix("[") && host.hasSuffix("]") ? String(host.dropFirst().dropLast()) : host
        if bare == "localhost" || bare == "::1" { return true }
        let octets = bare.split(separator: ".", omittingEmptySubsequences: false)
        return octets.count == 4 && octets[0] == "127" && octets.allSatisfy { UInt8($0) != nil }
    }

    /// HTTP connections open now.
    public var openConnections: Int { connections.value }

    /// The most HTTP connections open at once since the server started.
    public var peakConnections: Int { connections.peak }

    /// MCP sessions open now.
    public var openSessions: Int { get async { await sessions.count } }

    /// Serves until SIGINT or SIGTERM, then closes every session (stopping their runs).
    /// `onReady` gets the bound port, which differs from `port` when that is 0.
    public func run(onReady: @escaping @Sendable (Int) async -> Void = { _ in }) async throws {
        try checkExposure()
        let sessions = sessions
        let configuration = service.configuration
        let authentication = authentication
        let router = Router()
        for method in [HTTPRequest.Method.post, .get, .delete] {
            router.on("/mcp", method: method) { request, _ -> Response in
                // Before the body is read: a client without a token costs no more than this.
                switch authentication.check(request, endpoint: .mcp) {
                case .refused(let answer): return answer
                case .allowed(let client, let authenticated):
                    return try await Self.forward(
                        request, to: sessions, client: client, authenticated: authenticated,
                        maxBodyBytes: configuration.maxMessageBytes)
                }
            }
        }
        for path in ["/.well-known/oauth-protected-resource", "/.well-known/oauth-protected-resource/mcp"] {
            router.get(RouterPath(path)) { request, _ -> Response in authentication.metadata(request) }
        }
        let draining = draining
        router.get("/health") { _, _ -> Response in
            if draining.isSet {
                return Response(
                    status: .serviceUnavailable, headers: [.contentType: "application/json"],
                    body: .init(
                        byteBuffer: ByteBuffer(
                            string: #"{"healthy":false,"message":"draining: this server is shutting down"}"#)))
            }
            let report = await service.sandbox.health()
            let body = try JSONEncoder().encode(report)
            return Response(
                status: report.healthy ? .ok : .serviceUnavailable,
                headers: [.contentType: "application/json"], body: .init(byteBuffer: ByteBuffer(data: body)))
        }
        router.get("/metrics") { request, _ -> Response in
            if case .refused(let answer) = authentication.check(request, endpoint: .metrics) { return answer }
            let text = prometheus?.emitToString() ?? ""
            return Response(
                status: .ok, headers: [.contentType: "text/plain; version=0.0.4"],
                body: .init(byteBuffer: ByteBuffer(string: text)))
        }
        let requestTimeout = TimeAmount.seconds(Int64(configuration.httpRequestTimeoutSeconds))
        var app = Application(
            router: router,
            server: .http1(
                configuration: .init(
                    additionalChannelHandlers: [RequestDeadlineHandler(timeout: requestTimeout)],
                    idleTimeout: .seconds(Int64(configuration.httpIdleTimeoutSeconds)))),
            configuration: .init(
                address: .hostname(host, port: port), serverName: "wasm-sandbox",
                availableConnectionsDelegate: ConnectionLimit(
                    maximum: configuration.httpMaxConnections, count: connections)),
            onServerRunning: { channel in
                // The connection limit is checked once per read of the listening socket, and a
                // read accepts up to `maxMessagesPerRead` clients (4 by default): one per read
                // makes the cap exact instead of overshooting by up to three.
                try? await channel.setOption(ChannelOptions.maxMessagesPerRead, value: 1)
                await onReady(channel.localAddress?.port ?? port)
            },
            logger: logger)
        // SIGTERM and SIGINT start the drain, which ends in the group's graceful shutdown:
        // the sessions are closed (their calls cancelled) and the server stops.
        let group = GroupHandle()
        let drain = Drain(
            server: self, limit: .seconds(configuration.drainSeconds), group: group, logger: logger)
        let serviceGroup = ServiceGroup(
            configuration: .init(
                services: [
                    .init(service: app), .init(service: SessionCloser(sessions: sessions)),
                    .init(service: SessionExpiry(sessions: sessions)),
                    .init(service: TokenReload(server: self, logger: logger)),
                    // Last: shutdown goes in reverse, and the drain, which starts it, ends first.
                    .init(service: drain),
                ],
                logger: logger))
        group.set(serviceGroup)
        try await serviceGroup.run()
    }

    private static func forward(
        _ request: Request, to sessions: MCPSessions, client: String, authenticated: Bool, maxBodyBytes: Int
    ) async throws -> Response {
        var headers: [String: String] = [:]
        for field in request.headers { headers[field.name.canonicalName] = field.value }
        let body = try await request.body.collect(upTo: maxBodyBytes)
        let mcpRequest = MCP.HTTPRequest(
            method: request.method.rawValue, headers: headers,
            body: body.readableBytes > 0 ? Data(buffer: body) : nil, path: request.uri.path)
        let response = await sessions.handle(mcpRequest, client: client, authenticated: authenticated)
        var fields = HTTPFields()
        for (name, value) in response.headers {
            if let name = HTTPField.Name(name) { fields[name] = value }
        }
        let status = HTTPResponse.Status(code: response.statusCode)
        switch response {
        case .stream(let stream, _):
            let session =
                response.headers.first { $0.key.lowercased() == "mcp-session-id" }?.value
                ?? mcpRequest.header(HTTPHeaderName.sessionID)
            return Response(
                status: status, headers: fields,
                body: ResponseBody(
                    asyncSequence: streamCancellingOnDisconnect(
                        stream, session: session, requestID: mcpRequest.body.flatMap(Self.requestID), sessions: sessions
                    )))
        default:
            return Response(
                status: status, headers: fields,
                body: response.bodyData.map { ResponseBody(byteBuffer: ByteBuffer(data: $0)) } ?? ResponseBody())
        }
    }
}

extension MCPHTTPServer {
    /// The JSON-RPC id of a request body, when it is a single request (a notification has
    /// none, and a batch or a body that is not JSON-RPC gives `nil` too).
    static func requestID(_ body: Data) -> ID? {
        struct Envelope: Decodable {
            var method: String
            var id: ID?
        }
        return (try? JSONDecoder().decode(Envelope.self, from: body))?.id
    }

    /// Relays an SSE response; when the client stops reading before it ends (it went away),
    /// the call is cancelled so that its run stops and frees its slot.
    ///
    /// A silent connection shows no disconnect until something is written to it, so an SSE
    /// comment (ignored by clients) goes out every half second while the call runs.
    static func streamCancellingOnDisconnect(
        _ stream: AsyncThrowingStream<Data, any Error>, session: String?, requestID: ID?, sessions: MCPSessions
    ) -> AsyncThrowingStream<ByteBuffer, any Error> {
        let (relay, continuation) = AsyncThrowingStream<ByteBuffer, any Error>.makeStream()
        let pump = Task {
            do {
                for try await chunk in stream { continuation.yield(ByteBuffer(data: chunk)) }
                continuation.finish()
            } catch {
                continuation.finish(throwing: error)
            }
        }
        let heartbeat = Task {
            while !Task.isCancelled {
                try await Task.sleep(for: .milliseconds(500))
                continuation.yield(ByteBuffer(string: ": keep-alive\n\n"))
            }
        }
        continuation.onTermination = { termination in
            heartbeat.cancel()
            guard case .cancelled = termination else { return }
            pump.cancel()
            if let session, let requestID {
                Task { await sessions.cancel(session: session, requestID: requestID) }
            }
        }
        return relay
    }
}

/// The number of open connections, shared between the connection limit and its observers.
final class ConnectionCount: Sendable {
    private let count = Atomic(0)
    private let highest = Atomic(0)
    var value: Int { count.load(ordering: .relaxed) }
    var peak: Int { highest.load(ordering: .relaxed) }

    func add(_ delta: Int) {
        let now = count.add(delta, ordering: .relaxed).newValue
        highest.max(now, ordering: .relaxed)
    }
}

/// Stops accepting connections while `maximum` are open, so that clients, however many, never
/// take the process to its descriptor limit; the kernel's listen backlog holds the rest until
/// a connection closes (the idle and request timeouts see that they do).
struct ConnectionLimit: AvailableConnectionsDelegate {
    let maximum: Int
    let count: ConnectionCount
    private var open = 0

    init(maximum: Int, count: ConnectionCount) {
        self.maximum = maximum
        self.count = count
    }

    mutating func connectionOpened() {
        open += 1
        count.add(1)
    }

    mutating func connectionClosed() {
        open -= 1
        count.add(-1)
    }

    func isAcceptingNewConnections() -> Bool { open < maximum }
}

/// Closes a connection whose request, head to end of body, takes longer than `timeout` to
/// arrive. Hummingbird's idle timeout is measured from the last request part, so a client
/// trickling a body a byte at a time would otherwise hold its connection forever.
final class RequestDeadlineHandler: ChannelInboundHandler, RemovableChannelHandler {
    typealias InboundIn = HTTPRequestPart
    typealias InboundOut = HTTPRequestPart

    let timeout: TimeAmount
    private var deadline: Scheduled<Void>?

    init(timeout: TimeAmount) { self.timeout = timeout }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        switch unwrapInboundIn(data) {
        case .head:
            deadline?.cancel()
            let loopBound = NIOLoopBound(context, eventLoop: context.eventLoop)
            deadline = context.eventLoop.scheduleTask(in: timeout) { loopBound.value.close(promise: nil) }
        case .end:
            deadline?.cancel()
            deadline = nil
        case .body: break
        }
        context.fireChannelRead(data)
    }

    func handlerRemoved(context: ChannelHandlerContext) {
        deadline?.cancel()
        deadline = nil
    }

    func channelInactive(context: ChannelHandlerContext) {
        deadline?.cancel()
        deadline = nil
        context.fireChannelInactive()
    }
}

/// Closes idle MCP sessions on a timer, so they expire even when no other request arrives.
private struct SessionExpiry: Service {
    let sessions: MCPSessions

    func run() async throws {
        let interval = await sessions.expiryInterval
        try? await cancelWhenGracefulShutdown {
            while !Task.isCancelled {
                try await Task.sleep(for: interval)
                await sessions.expireIdleSessions()
            }
        }
    }
}

/// Whether the server drains, read by every health check.
final class DrainFlag: Sendable {
    private let flag = Atomic(false)
    var isSet: Bool { flag.load(ordering: .relaxed) }
    func set() { flag.store(true, ordering: .relaxed) }
}

/// The service group, for the drain to end it.
private final class GroupHandle: Sendable {
    private let group = Mutex<ServiceGroup?>(nil)
    func set(_ serviceGroup: ServiceGroup) { group.withLock { $0 = serviceGroup } }
    func shutDown() async { await group.withLock { $0 }?.triggerGracefulShutdown() }
}

/// Waits for SIGTERM or SIGINT, then drains: the health check fails and new MCP sessions
/// are refused at once, calls in flight may finish for up to `limit`, then the group shuts
/// down (closing the sessions, which cancels what still runs).
private struct Drain: Service {
    let server: MCPHTTPServer
    let limit: Duration
    let group: GroupHandle
    let logger: Logger

    func run() async throws {
        let signals = await UnixSignalsSequence(trapping: .sigterm, .sigint)
        try? await cancelWhenGracefulShutdown {
            for await signal in signals {
                logger.notice(
                    "draining on \(signal): no new sessions, \(server.service.callsInFlight) call(s) in flight may finish"
                )
                server.draining.set()
                await server.sessions.startDraining()
                let deadline = ContinuousClock.now + limit
                while server.service.callsInFlight > 0, ContinuousClock.now < deadline {
                    try await Task.sleep(for: .milliseconds(50))
                }
                await group.shutDown()
                return
            }
        }
    }
}

/// Reads the tokens files again on each SIGHUP, keeping the sessions.
private struct TokenReload: Service {
    let server: MCPHTTPServer
    let logger: Logger

    func run() async throws {
        let signals = await UnixSignalsSequence(trapping: .sighup)
        await cancelWhenGracefulShutdown {
            for await _ in signals {
                do {
                    let summary = try server.reloadTokens()
                    logger.notice("reloaded the tokens on SIGHUP: \(summary)")
                } catch {
                    logger.error("SIGHUP: kept the previous tokens: \(error)")
                }
            }
        }
    }
}

/// Closes the MCP sessions when the application shuts down, so no run outlives the server.
private struct SessionCloser: Service {
    let sessions: MCPSessions

    func run() async throws {
        try? await gracefulShutdown()
        await sessions.closeAll()
    }
}
