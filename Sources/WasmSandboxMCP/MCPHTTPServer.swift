import Foundation
import HTTPTypes
import Hummingbird
import Logging
import MCP
import Prometheus
import ServiceLifecycle

/// MCP's Streamable HTTP transport on Hummingbird, at `/mcp`, with `GET /health` (the canary)
/// and `GET /metrics` (Prometheus text from the registry the process bootstrapped).
public struct MCPHTTPServer: Sendable {
    public let service: SandboxMCPServer
    public let host: String
    public let port: Int
    public let prometheus: PrometheusCollectorRegistry?
    let logger: Logger

    public init(
        service: SandboxMCPServer, host: String, port: Int, prometheus: PrometheusCollectorRegistry?, logger: Logger
    ) {
        self.service = service
        self.host = host
        self.port = port
        self.prometheus = prometheus
        self.logger = logger
    }

    /// The largest request body accepted (a call carries code and files).
    static let maxBodyBytes = 16 << 20

    /// Serves until SIGINT or SIGTERM, then closes every session (stopping their runs).
    /// `onReady` gets the bound port, which differs from `port` when that is 0.
    public func run(onReady: @escaping @Sendable (Int) async -> Void = { _ in }) async throws {
        let sessions = MCPSessions(service: service, logger: logger)
        let router = Router()
        for method in [HTTPRequest.Method.post, .get, .delete] {
            router.on("/mcp", method: method) { request, _ -> Response in
                try await Self.forward(request, to: sessions)
            }
        }
        router.get("/health") { _, _ -> Response in
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
        var app = Application(
            router: router,
            configuration: .init(address: .hostname(host, port: port), serverName: "wasm-sandbox"),
            onServerRunning: { channel in await onReady(channel.localAddress?.port ?? port) },
            logger: logger)
        app.addServices(SessionCloser(sessions: sessions))
        try await app.runService(gracefulShutdownSignals: [.sigterm, .sigint])
    }

    private static func forward(_ request: Request, to sessions: MCPSessions) async throws -> Response {
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
    /// The JSON-RPC id of a request body, when it is a single request.
    static func requestID(_ body: Data) -> Any? {
        guard let message = try? JSONSerialization.jsonObject(with: body) as? [String: Any],
            message["method"] != nil
        else { return nil }
        return message["id"]
    }

    /// Relays an SSE response; when the client stops reading before it ends (it went away),
    /// the call is cancelled so that its run stops and frees its slot.
    ///
    /// A silent connection shows no disconnect until something is written to it, so an SSE
    /// comment (ignored by clients) goes out every half second while the call runs.
    static func streamCancellingOnDisconnect(
        _ stream: AsyncThrowingStream<Data, any Error>, session: String?, requestID: Any?, sessions: MCPSessions
    ) -> AsyncThrowingStream<ByteBuffer, any Error> {
        let requestID = requestID.map { SendableJSON(value: $0) }
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
                Task { await sessions.cancel(session: session, requestID: requestID.value) }
            }
        }
        return relay
    }
}

/// A JSON-RPC id (a string or a number) carried across tasks.
struct SendableJSON: @unchecked Sendable {
    let value: Any
}

/// Closes the MCP sessions when the application shuts down, so no run outlives the server.
private struct SessionCloser: Service {
    let sessions: MCPSessions

    func run() async throws {
        try? await gracefulShutdown()
        await sessions.closeAll()
    }
}
