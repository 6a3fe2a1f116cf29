import Foundation
import Logging
import MCP
import Prometheus

#if canImport(Glibc)
    import Glibc
#endif

/// How clients reach the MCP server.
public enum MCPServing: Sendable, Equatable {
    /// JSON-RPC on standard input and output, for a client that starts the server itself.
    case stdio
    /// MCP's Streamable HTTP at `/mcp`, with `GET /health` and `GET /metrics`; port 0 picks
    /// a free one.
    case http(host: String, port: Int)
}

extension SandboxMCPServer {
    /// Serves the sandbox's tools until the client goes away (stdio: its end of the input) or
    /// the process gets SIGINT or SIGTERM.
    ///
    /// - Parameters:
    ///   - prometheus: Where `GET /metrics` reads from (HTTP only).
    ///   - onReady: Called once the server answers, with the bound port (0 for stdio).
    public func serve(
        _ serving: MCPServing, logger: Logger, prometheus: PrometheusCollectorRegistry? = nil,
        onReady: @escaping @Sendable (Int) async -> Void = { _ in }
    ) async throws {
        switch serving {
        case .http(let host, let port):
            try await MCPHTTPServer(service: self, host: host, port: port, prometheus: prometheus, logger: logger)
                .run(onReady: onReady)
        case .stdio:
            try await serveStdio(logger: logger, onReady: onReady)
        }
    }

    private func serveStdio(logger: Logger, onReady: @Sendable (Int) async -> Void) async throws {
        let transport = StdioLineTransport(maxMessageBytes: configuration.maxMessageBytes, logger: logger)
        let connection = Connection(
            sandbox: sandbox, caller: AuditLog.Caller(client: "stdio", session: "stdio", authenticated: false))
        let writer = transport.writer
        let shortcut = ToolCallShortcut(service: self, connection: connection) { data in writer.enqueue(data) }
        await transport.setShortcut(shortcut.offer)
        let server = try await startServer(transport: transport, connection: connection)
        // Stop reading on SIGINT/SIGTERM and let the process end; runs in flight end with it.
        let signals = [SIGINT, SIGTERM].map { number in
            signal(number, SIG_IGN)
            let source = DispatchSource.makeSignalSource(signal: number)
            source.setEventHandler {
                logger.info("stopping on signal \(number)")
                Task { await server.stop() }
            }
            source.resume()
            return source
        }
        await onReady(0)
        await server.waitUntilCompleted()
        shortcut.cancelAll()
        // Answers already made (a ping, a refusal) still reach the client.
        await transport.writer.flush()
        await connectionClosed(server)
        for source in signals { source.cancel() }
    }
}
