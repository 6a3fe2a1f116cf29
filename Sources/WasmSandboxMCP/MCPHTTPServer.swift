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

    public init(
        service: SandboxMCPServer, host: String, port: Int, prometheus: PrometheusCollectorRegistry?, logger: Logger
    ) {
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
        let sessions = sessions
        let configuration = service.configuration
        let router = Router()
        for method in [HTTPRequest.Method.post, .get, .delete] {
            router.on("/mcp", method: method) { request, _ -> Response in
                try await Self.forward(request, to: sessions, maxBodyBytes: configuration.maxMessageBytes)
            }
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
        router.get("/metrics") { _, _ -> Response in
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
                    .init(service: SessionExpiry(sessions: sessions)), .init(service: drain),
                ],
                logger: logger))
        group.set(serviceGroup)
        try await serviceGroup.run()
    }

    private static func forward(_ request: Request, to sessions: MCPSessions, maxBodyBytes: Int) async throws
        -> Response
    {
        var headers: [String: String] = [:]
        for field in request.headers { headers[field.name.canonicalName] = field.value }
        let body = try await request.body.collect(upTo: maxBodyBytes)
        let mcpRequest = MCP.HTTPRequest(
            method: request.method.rawValue, headers: headers,
            body: body.readableBytes > 0 ? Data(buffer: body) : nil, path: request.uri.path)
        let response = await sessions.handle(mcpRequest)
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

/// Closes the MCP sessions when the application shuts down, so no run outlives the server.
private struct SessionCloser: Service {
    let sessions: MCPSessions

    func run() async throws {
        try? await gracefulShutdown()
        await sessions.closeAll()
    }
}
