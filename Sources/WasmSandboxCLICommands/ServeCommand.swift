import ArgumentParser
import Foundation
import Logging
import Metrics
import Prometheus
import WasmSandbox
import WasmSandboxMCP

#if canImport(Glibc)
    import Glibc
#endif

struct ServeCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "serve",
        abstract:
            "Serve the sandbox as MCP tools (execute_code, sandbox_health, sandbox_metrics, list_sessions, reset_session, close_session).",
        discussion: """
            Serves over stdio by default; --http HOST:PORT serves MCP's Streamable HTTP transport at \
            /mcp, with GET /health and GET /metrics (Prometheus). Defaults and maxima come from \
            MCP_SANDBOX_* environment variables (see the README); the flags below override them. \
            Logs go to stderr; under stdio, stdout carries only the protocol.
            """
    )

    @Option(help: "Serve Streamable HTTP on HOST:PORT instead of stdio (port 0 picks a free one).")
    var http: String?

    @Option(
        name: .customLong("default-timeout-ms"),
        help: "Timeout of a call that sets none (MCP_SANDBOX_DEFAULT_TIMEOUT_MS).")
    var defaultTimeoutMs: Int?
    @Option(
        name: .customLong("max-timeout-ms"), help: "Largest timeout a call may ask for (MCP_SANDBOX_MAX_TIMEOUT_MS).")
    var maxTimeoutMs: Int?
    @Option(
        name: .customLong("default-memory-mb"),
        help: "Memory limit of a call that sets none, MiB (MCP_SANDBOX_DEFAULT_MEMORY_MB).")
    var defaultMemoryMb: Int?
    @Option(
        name: .customLong("max-memory-mb"),
        help: "Largest memory limit a call may ask for, MiB (MCP_SANDBOX_MAX_MEMORY_MB).")
    var maxMemoryMb: Int?
    @Option(
        name: .customLong("max-output-kb"),
        help: "Cap on a call's stdout and on its stderr, each, KiB (MCP_SANDBOX_MAX_OUTPUT_KB).")
    var maxOutputKb: Int?
    @Option(name: .customLong("max-code-bytes"), help: "Largest program a call may send (MCP_SANDBOX_MAX_CODE_BYTES).")
    var maxCodeBytes: Int?
    @Option(
        name: .customLong("max-concurrent"), help: "Runs at once; more wait in a queue (MCP_SANDBOX_MAX_CONCURRENT).")
    var maxConcurrent: Int?
    @Option(
        name: .customLong("max-inline-total-bytes"),
        help: "Bytes of files returned inline by one call, all files together (MCP_SANDBOX_MAX_INLINE_TOTAL_BYTES).")
    var maxInlineTotalBytes: Int?
    @Option(
        name: .customLong("http-idle-timeout-seconds"),
        help:
            "HTTP: close a connection idle this long, or stuck in a request head (MCP_SANDBOX_HTTP_IDLE_TIMEOUT_SECONDS)."
    )
    var httpIdleTimeoutSeconds: Int?
    @Option(
        name: .customLong("http-request-timeout-seconds"),
        help:
            "HTTP: close a connection whose request takes longer to arrive (MCP_SANDBOX_HTTP_REQUEST_TIMEOUT_SECONDS).")
    var httpRequestTimeoutSeconds: Int?
    @Option(
        name: .customLong("http-max-connections"),
        help: "HTTP: connections open at once; more wait in the listen backlog (MCP_SANDBOX_HTTP_MAX_CONNECTIONS).")
    var httpMaxConnections: Int?
    @Option(
        name: .customLong("max-sessions"),
        help:
            "HTTP: MCP sessions open at once; the least recently used idle one closes first (MCP_SANDBOX_MAX_SESSIONS)."
    )
    var maxSessions: Int?
    @Option(
        name: .customLong("session-idle-timeout-seconds"),
        help: "HTTP: close a session unused this long (MCP_SANDBOX_SESSION_IDLE_TIMEOUT_SECONDS).")
    var sessionIdleTimeoutSeconds: Int?
    @Option(
        name: .customLong("http-event-stream-seconds"),
        help: "HTTP: end a GET event stream after this long (MCP_SANDBOX_HTTP_EVENT_STREAM_SECONDS).")
    var httpEventStreamSeconds: Int?
    @Option(
        name: .customLong("max-code-sessions"),
        help:
            "Code sessions (execute_code with session_id) open at once, 0 for none; the least recently used idle one closes first (MCP_SANDBOX_MAX_CODE_SESSIONS)."
    )
    var maxCodeSessions: Int?
    @Option(
        name: .customLong("code-session-idle-seconds"),
        help: "Close a code session without calls for this long (MCP_SANDBOX_CODE_SESSION_IDLE_SECONDS).")
    var codeSessionIdleSeconds: Int?
    @Option(
        name: .customLong("code-sessions-memory-mb"),
        help: "Memory of all code sessions together, MiB (MCP_SANDBOX_CODE_SESSIONS_MEMORY_MB).")
    var codeSessionsMemoryMb: Int?
    @Option(
        name: .customLong("auth-tokens"),
        help:
            "HTTP: clients allowed in, one 'NAME SHA256-HEX-OF-TOKEN' per line, reloaded on SIGHUP (MCP_SANDBOX_AUTH_TOKENS)."
    )
    var authTokens: String?
    @Option(
        name: .customLong("metrics-tokens"),
        help: "HTTP: tokens for GET /metrics, same format; without it /metrics is open (MCP_SANDBOX_METRICS_TOKENS).")
    var metricsTokens: String?
    @Flag(
        name: .customLong("allow-unauthenticated"),
        help: "HTTP: serve an address other than loopback without --auth-tokens (anyone reaching it can run code).")
    var allowUnauthenticated = false
    @Option(
        name: .customLong("public-url"),
        help:
            "HTTP: the URL clients use (https://sandbox.example.com), named by 401 answers; default: the request's Host (MCP_SANDBOX_PUBLIC_URL)."
    )
    var publicURL: String?
    @Option(
        name: .customLong("quota-concurrent-runs"),
        help: "HTTP: runs at once per client, unless its token line says (MCP_SANDBOX_QUOTA_CONCURRENT_RUNS).")
    var quotaConcurrentRuns: Int?
    @Option(
        name: .customLong("quota-calls-per-minute"),
        help: "HTTP: tool calls per minute per client, unless its token line says (MCP_SANDBOX_QUOTA_CALLS_PER_MINUTE)."
    )
    var quotaCallsPerMinute: Int?
    @Option(
        name: .customLong("quota-cpu-seconds-per-minute"),
        help:
            "HTTP: run time per minute per client, seconds, unless its token line says (MCP_SANDBOX_QUOTA_CPU_SECONDS_PER_MINUTE)."
    )
    var quotaCPUSecondsPerMinute: Int?
    @Option(
        name: .customLong("quota-sessions"),
        help: "HTTP: MCP sessions at once per client, unless its token line says (MCP_SANDBOX_QUOTA_SESSIONS).")
    var quotaSessions: Int?
    @Option(
        name: .customLong("quota-code-sessions"),
        help: "HTTP: code sessions at once per client, unless its token line says (MCP_SANDBOX_QUOTA_CODE_SESSIONS).")
    var quotaCodeSessions: Int?
    @Flag(
        name: .customLong("audit-code"),
        help: "Put each call's code in its audit line, not only its SHA-256 (MCP_SANDBOX_AUDIT_CODE).")
    var auditCode = false
    @Option(
        name: .customLong("audit-log"),
        help: "Append the audit lines (one JSON object per call) to FILE instead of the log on stderr.")
    var auditLog: String?
    @Option(help: "The engine that runs calls: wasmtime or wasmkit (MCP_SANDBOX_BACKEND).")
    var backend: SandboxBackendKind?
    @Option(name: .customLong("log-format"), help: "text or json (one JSON object per line).")
    var logFormat = LogFormat.text
    @Option(name: .customLong("log-level"), help: "trace, debug, info, notice, warning, error or critical.")
    var logLevel = LogLevel.info

    func run() async throws {
        let auditOutput: JSONLogHandler.Output?
        do { auditOutput = try auditLog.map { try JSONLogHandler.Output(appendingTo: $0) } } catch {
            throw ValidationError("--audit-log: \(error)")
        }
        LoggingSystem.bootstrap { [logLevel, logFormat] label -> any LogHandler in
            if label == Self.auditLabel {
                // Always JSON: its fields carry client text (code, session names), which a text
                // handler writes as it is, newlines and all, letting a client forge lines.
                // In a file of its own it is kept whatever the log level.
                guard let auditOutput else {
                    var handler = JSONLogHandler(label: label)
                    handler.logLevel = logLevel.level
                    return handler
                }
                return JSONLogHandler(label: label, output: auditOutput)
            }
            switch logFormat {
            case .json:
                var handler = JSONLogHandler(label: label)
                handler.logLevel = logLevel.level
                return handler
            case .text:
                var handler = StreamLogHandler.standardError(label: label)
                handler.logLevel = logLevel.level
                return handler
            }
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
                (maxCodeSessions, "--max-code-sessions", \.maxCodeSessions, LimitBounds.codeSessions),
                (
                    codeSessionIdleSeconds, "--code-session-idle-seconds", \.codeSessionIdleSeconds,
                    LimitBounds.seconds
                ),
                (
                    codeSessionsMemoryMb, "--code-sessions-memory-mb", \.codeSessionsMemoryMb,
                    LimitBounds.sessionsMemoryMb
                ),
                (
                    quotaConcurrentRuns, "--quota-concurrent-runs", \.quota.concurrentRuns,
                    LimitBounds.concurrentExecutions
                ),
                (quotaCallsPerMinute, "--quota-calls-per-minute", \.quota.callsPerMinute, LimitBounds.quotaCalls),
                (
                    quotaCPUSecondsPerMinute, "--quota-cpu-seconds-per-minute", \.quota.cpuSecondsPerMinute,
                    LimitBounds.quotaSeconds
                ),
                (quotaSessions, "--quota-sessions", \.quota.sessions, LimitBounds.sessions),
                (quotaCodeSessions, "--quota-code-sessions", \.quota.codeSessions, LimitBounds.codeSessions),
            ]
            for (value, flag, field, range) in flags {
                try checkBounds(value, flag, range)
                if let value { configuration[keyPath: field] = value }
            }
            if let backend { configuration.backend = backend }
            if let authTokens { configuration.authTokensFile = authTokens }
            if let metricsTokens { configuration.metricsTokensFile = metricsTokens }
            if let publicURL { configuration.publicURL = publicURL }
            if allowUnauthenticated { configuration.allowUnauthenticated = true }
            if auditCode { configuration.auditCode = true }
            try configuration.validate()
        } catch let error as ConfigurationError {
            throw ValidationError(error.description)
        }
        let serving: MCPServing
        var registry: PrometheusCollectorRegistry?
        if let http {
            guard let colon = http.lastIndex(of: ":"), let port = Int(http[http.index(after: colon)...]),
                (0...65535).contains(port), colon != http.startIndex
            else { throw ValidationError("--http must look like HOST:PORT, got '\(http)'") }
            serving = .http(host: String(http[..<colon]), port: port)
            registry = PrometheusCollectorRegistry()
            MetricsSystem.bootstrap(PrometheusMetricsFactory(registry: registry!))
        } else {
            serving = .stdio
        }
        var sandbox = SandboxConfiguration()
        sandbox.logger = logger
        let service = try SandboxMCPServer(
            configuration: configuration, sandbox: sandbox, auditLogger: Logger(label: Self.auditLabel))
        do {
            try await service.serve(serving, logger: logger, prometheus: registry) { port in
                switch serving {
                // Printed to stderr so scripts and tests can find a port chosen by the system.
                case .http(let host, _): logger.notice("serving MCP over Streamable HTTP at http://\(host):\(port)/mcp")
                case .stdio: logger.info("serving MCP over stdio")
                }
            }
        } catch let error as ConfigurationError {
            // A tokens file that cannot be used, or an exposed address without one.
            throw ValidationError(error.description)
        }
        logger.info("stopped")
    }
}

extension ServeCommand {
    /// The logger label of the audit trail, which `--audit-log` sends to its own file.
    static let auditLabel = "wasm-sandbox.audit"
}

/// How log lines are written.
enum LogFormat: String, CaseIterable, ExpressibleByArgument {
    case text, json
}

/// swift-log's levels as a flag value: an unknown level is a usage error naming the choices,
/// not a silent fallback to `info`.
enum LogLevel: String, CaseIterable, ExpressibleByArgument {
    case trace, debug, info, notice, warning, error, critical

    var level: Logger.Level { Logger.Level(rawValue: rawValue)! }
}
