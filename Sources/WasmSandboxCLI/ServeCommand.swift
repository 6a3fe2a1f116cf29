import ArgumentParser
import Foundation
import Logging
import MCP
import Metrics
import Prometheus
import WasmSandboxMCP

#if canImport(Glibc)
    import Glibc
#endif

struct ServeCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "serve",
        abstract: "Serve the sandbox as MCP tools (execute_code, sandbox_health, sandbox_metrics).",
        discussion: """
            Serves over stdio by default; --http HOST:PORT serves MCP's Streamable HTTP transport at \
            /mcp, with GET /health and GET /metrics (Prometheus). Defaults and maxima come from \
            MCP_SANDBOX_* environment variables (see the README); the flags below override them. \
            Logs go to stderr; under stdio, stdout carries only the protocol.
            """
    )

    @Option(help: "Serve Streamable HTTP on HOST:PORT instead of stdio (port 0 picks a free one).")
    var http: String?

    @Option(name: .customLong("default-timeout-ms")) var defaultTimeoutMs: Int?
    @Option(name: .customLong("max-timeout-ms")) var maxTimeoutMs: Int?
    @Option(name: .customLong("default-memory-mb")) var defaultMemoryMb: Int?
    @Option(name: .customLong("max-memory-mb")) var maxMemoryMb: Int?
    @Option(name: .customLong("max-output-kb")) var maxOutputKb: Int?
    @Option(name: .customLong("max-code-bytes")) var maxCodeBytes: Int?
    @Option(name: .customLong("max-concurrent")) var maxConcurrent: Int?
    @Option(name: .customLong("max-inline-total-bytes")) var maxInlineTotalBytes: Int?
    @Option(name: .customLong("http-idle-timeout-seconds")) var httpIdleTimeoutSeconds: Int?
    @Option(name: .customLong("http-request-timeout-seconds")) var httpRequestTimeoutSeconds: Int?
    @Option(name: .customLong("http-max-connections")) var httpMaxConnections: Int?
    @Option(name: .customLong("max-sessions")) var maxSessions: Int?
    @Option(name: .customLong("session-idle-timeout-seconds")) var sessionIdleTimeoutSeconds: Int?
    @Option(name: .customLong("http-event-stream-seconds")) var httpEventStreamSeconds: Int?
    @Option(name: .customLong("log-level"), help: "trace, debug, info, notice, warning, error or critical.")
    var logLevel = "info"

    func run() async throws {
        let level = Logger.Level(rawValue: logLevel) ?? .info
        LoggingSystem.bootstrap { label in
            var handler = StreamLogHandler.standardError(label: label)
            handler.logLevel = level
            return handler
        }
        let logger = Logger(label: "wasm-sandbox.serve")
        var configuration: MCPServerConfiguration
        do {
            configuration = try MCPServerConfiguration(environment: ProcessInfo.processInfo.environment)
            let flags: [(Int?, String, WritableKeyPath<MCPServerConfiguration, Int>, ClosedRange<Int>)] = [
                (defaultTimeoutMs, "--default-timeout-ms", \.defaultTimeoutMs, LimitBounds.timeoutMs),
                (maxTimeoutMs, "--max-timeout-ms", \.maxTimeoutMs, LimitBounds.timeoutMs),
                (defaultMemoryMb, "--default-memory-mb", \.defaultMemoryMb, LimitBounds.memoryMb),
                (maxMemoryMb, "--max-memory-mb", \.maxMemoryMb, LimitBounds.memoryMb),
                (maxOutputKb, "--max-output-kb", \.maxOutputKb, LimitBounds.outputKb),
                (maxCodeBytes, "--max-code-bytes", \.maxCodeBytes, LimitBounds.codeBytes),
                (maxConcurrent, "--max-concurrent", \.maxConcurrentExecutions, LimitBounds.concurrentExecutions),
                (maxInlineTotalBytes, "--max-inline-total-bytes", \.maxInlineTotalBytes, LimitBounds.inlineBytes),
                (httpIdleTimeoutSeconds, "--http-idle-timeout-seconds", \.httpIdleTimeoutSeconds, LimitBounds.seconds),
                (
                    httpRequestTimeoutSeconds, "--http-request-timeout-seconds", \.httpRequestTimeoutSeconds,
                    LimitBounds.seconds
                ),
                (httpMaxConnections, "--http-max-connections", \.httpMaxConnections, LimitBounds.connections),
                (maxSessions, "--max-sessions", \.maxSessions, LimitBounds.sessions),
                (
                    sessionIdleTimeoutSeconds, "--session-idle-timeout-seconds", \.sessionIdleTimeoutSeconds,
                    LimitBounds.seconds
                ),
                (httpEventStreamSeconds, "--http-event-stream-seconds", \.httpEventStreamSeconds, LimitBounds.seconds),
            ]
            for (value, flag, field, range) in flags {
                try checkBounds(value, flag, range)
                if let value { configuration[keyPath: field] = value }
            }
            try configuration.validate()
        } catch let error as ConfigurationError {
            throw ValidationError(error.description)
        }
        if let http {
            guard let colon = http.lastIndex(of: ":"), let port = Int(http[http.index(after: colon)...]),
                (0...65535).contains(port), colon != http.startIndex
            else { throw ValidationError("--http must look like HOST:PORT, got '\(http)'") }
            let registry = PrometheusCollectorRegistry()
            MetricsSystem.bootstrap(PrometheusMetricsFactory(registry: registry))
            let service = try SandboxMCPServer(configuration: configuration)
            let host = String(http[..<colon])
            try await MCPHTTPServer(service: service, host: host, port: port, prometheus: registry, logger: logger)
                .run { bound in
                    // Printed to stderr so scripts and tests can find a port chosen by the system.
                    logger.notice("serving MCP over Streamable HTTP at http://\(host):\(bound)/mcp")
                }
            return
        }
        let service = try SandboxMCPServer(configuration: configuration)
        let server = try await service.startServer(transport: StdioTransport(logger: logger), logger: logger)
        logger.info("serving MCP over stdio")

        // SIGINT/SIGTERM: stop reading, let the process end; runs in flight end with it.
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
        await server.waitUntilCompleted()
        for source in signals { source.cancel() }
        logger.info("stopped")
    }
}
