import Foundation
import WasmSandbox

/// Defaults and maxima of the MCP server. Requested limits above a maximum are clamped, and
/// the result says which limits applied.
///
/// Every field can come from the environment (`MCP_SANDBOX_*`, see ``init(environment:)``);
/// the CLI's flags override it. Every field has a range (``LimitBounds``) that ``validate()``
/// enforces.
public struct MCPServerConfiguration: Sendable {
    /// The engine that runs calls (`MCP_SANDBOX_BACKEND`: wasmtime or wasmkit).
    public var backend = SandboxBackendKind.wasmtime
    public var defaultTimeoutMs = 5_000
    public var maxTimeoutMs = 30_000
    public var defaultMemoryMb = 256
    public var maxMemoryMb = 1_024
    /// The largest fuel budget a call may ask for; `nil` for no maximum.
    public var maxFuel: UInt64? = nil
    /// Cap on stdout and on stderr, each.
    public var maxOutputKb = 1_024
    /// The largest `code` accepted, in bytes (for `wasm`, of the decoded module).
    public var maxCodeBytes = 1 << 20
    /// Workspace files at most this large come back inline in the result.
    public var maxInlineFileBytes = 64 * 1024
    /// The most bytes of workspace files returned inline by one call, all files together; the
    /// others are listed with their path and size only.
    public var maxInlineTotalBytes = 1 << 20
    /// The largest JSON-RPC message accepted, over stdio (one line) and HTTP (one body).
    public var maxMessageBytes = 16 << 20
    /// Characters of stdout, stderr and value in a result's text content, which is what most
    /// clients show the model; past it, the head and the tail are kept and the cut is marked.
    /// The structured result keeps all the captured output.
    public var textBudgetChars = 20_000
    /// Images (PNG, JPEG, GIF, SVG) a run creates come back as image content: at most this
    /// many, each at most ``maxImageBytes``.
    public var maxImages = 4
    public var maxImageBytes = 1 << 20
    /// How long the files of a stateless run stay readable through `resources/read` after
    /// its result is sent; a session's files stay while the session lives.
    public var resourceGraceSeconds = 60
    /// Streamable HTTP: on SIGTERM the server drains (fails its health check, refuses new MCP
    /// sessions, lets calls in flight finish) for at most this long, then closes what is left.
    public var drainSeconds = 30
    /// Executions running at once; more wait in a queue, and past it calls get `busy`.
    public var maxConcurrentExecutions = 20
    public var maxQueuedExecutions = 100

    /// Streamable HTTP: a connection with no request in progress is closed after this long
    /// without a complete request head. This also bounds a client sending half a header.
    public var httpIdleTimeoutSeconds = 60
    /// Streamable HTTP: the time a client has to send a whole request, from its head to the
    /// end of its body.
    public var httpRequestTimeoutSeconds = 30
    /// Streamable HTTP: open connections; further clients wait in the listen backlog until
    /// one closes.
    public var httpMaxConnections = 512
    /// Streamable HTTP: MCP sessions at once. At the cap, `initialize` closes the
    /// least-recently-used idle session; when every session is busy it is refused.
    public var maxSessions = 256
    /// Streamable HTTP: a session without requests or open streams for this long is closed.
    public var sessionIdleTimeoutSeconds = 3_600
    /// Streamable HTTP: a `GET` event stream is closed after this long (clients reconnect);
    /// one such stream per session is open at a time.
    public var httpEventStreamSeconds = 300
    /// Code sessions (`execute_code` with `session_id`) open at once, all clients together;
    /// at the cap, starting one closes the least recently used idle one. 0 turns them off.
    public var maxCodeSessions = 64
    /// A code session without a call for this long is closed.
    public var codeSessionIdleSeconds = 600
    /// Linear memory of all code sessions together, MiB; past it, the least recently used idle
    /// ones are closed.
    public var codeSessionsMemoryMb = 4_096

    /// Streamable HTTP: the file of clients allowed in (`NAME SHA256-HEX-OF-TOKEN` per line,
    /// see ``AuthTokens``), read at start and again on SIGHUP; `nil` serves without
    /// authentication, which only a loopback address allows unless ``allowUnauthenticated``.
    public var authTokensFile: String?
    /// Streamable HTTP: a tokens file for `GET /metrics` (Prometheus sends a bearer token);
    /// `nil` leaves the metrics open.
    public var metricsTokensFile: String?
    /// Streamable HTTP: serve a non-loopback address without a tokens file.
    public var allowUnauthenticated = false
    /// Streamable HTTP: the URL clients reach the server at (`https://sandbox.example.com`),
    /// named by the OAuth resource metadata that 401 answers point to; `nil` takes it from
    /// each request's `Host` header.
    public var publicURL: String?
    /// Audit lines carry each call's code, not only its SHA-256.
    public var auditCode = false
    /// The quotas of an authenticated client whose line in the tokens file sets none.
    public var quota = QuotaLimits()
    /// The length of a quota window: a minute, as the quotas' names say; settable so that
    /// tests need not wait a minute.
    public var quotaWindowSeconds = 60

    public init() {}

    /// The environment variables read, each with the field it sets and the range it allows.
    private static var variables: [(name: String, field: WritableKeyPath<Self, Int>, range: ClosedRange<Int>)] {
        [
            ("DEFAULT_TIMEOUT_MS", \.defaultTimeoutMs, LimitBounds.timeoutMs),
            ("MAX_TIMEOUT_MS", \.maxTimeoutMs, LimitBounds.timeoutMs),
            ("DEFAULT_MEMORY_MB", \.defaultMemoryMb, LimitBounds.memoryMb),
            ("MAX_MEMORY_MB", \.maxMemoryMb, LimitBounds.memoryMb),
            ("MAX_OUTPUT_KB", \.maxOutputKb, LimitBounds.outputKb),
            ("MAX_CODE_BYTES", \.maxCodeBytes, LimitBounds.codeBytes),
            ("MAX_INLINE_FILE_BYTES", \.maxInlineFileBytes, LimitBounds.inlineBytes),
            ("MAX_INLINE_TOTAL_BYTES", \.maxInlineTotalBytes, LimitBounds.inlineBytes),
            ("MAX_MESSAGE_BYTES", \.maxMessageBytes, LimitBounds.messageBytes),
            ("TEXT_BUDGET_CHARS", \.textBudgetChars, LimitBounds.textChars),
            ("MAX_IMAGES", \.maxImages, LimitBounds.images),
            ("MAX_IMAGE_BYTES", \.maxImageBytes, LimitBounds.inlineBytes),
            ("RESOURCE_GRACE_SECONDS", \.resourceGraceSeconds, LimitBounds.seconds),
            ("DRAIN_SECONDS", \.drainSeconds, LimitBounds.seconds),
            ("MAX_CONCURRENT", \.maxConcurrentExecutions, LimitBounds.concurrentExecutions),
            ("MAX_QUEUED", \.maxQueuedExecutions, LimitBounds.queuedExecutions),
            ("HTTP_IDLE_TIMEOUT_SECONDS", \.httpIdleTimeoutSeconds, LimitBounds.seconds),
            ("HTTP_REQUEST_TIMEOUT_SECONDS", \.httpRequestTimeoutSeconds, LimitBounds.seconds),
            ("HTTP_MAX_CONNECTIONS", \.httpMaxConnections, LimitBounds.connections),
            ("MAX_SESSIONS", \.maxSessions, LimitBounds.sessions),
            ("SESSION_IDLE_TIMEOUT_SECONDS", \.sessionIdleTimeoutSeconds, LimitBounds.seconds),
            ("QUOTA_CONCURRENT_RUNS", \.quota.concurrentRuns, LimitBounds.concurrentExecutions),
            ("QUOTA_CALLS_PER_MINUTE", \.quota.callsPerMinute, LimitBounds.quotaCalls),
            ("QUOTA_CPU_SECONDS_PER_MINUTE", \.quota.cpuSecondsPerMinute, LimitBounds.quotaSeconds),
            ("QUOTA_SESSIONS", \.quota.sessions, LimitBounds.sessions),
            ("QUOTA_CODE_SESSIONS", \.quota.codeSessions, LimitBounds.codeSessions),
            ("QUOTA_WINDOW_SECONDS", \.quotaWindowSeconds, LimitBounds.seconds),
            ("HTTP_EVENT_STREAM_SECONDS", \.httpEventStreamSeconds, LimitBounds.seconds),
            ("MAX_CODE_SESSIONS", \.maxCodeSessions, LimitBounds.codeSessions),
            ("CODE_SESSION_IDLE_SECONDS", \.codeSessionIdleSeconds, LimitBounds.seconds),
            ("CODE_SESSIONS_MEMORY_MB", \.codeSessionsMemoryMb, LimitBounds.sessionsMemoryMb),
        ]
    }

    /// Reads every `MCP_SANDBOX_*` variable of the README's table (`MCP_SANDBOX_MAX_TIMEOUT_MS`,
    /// `MCP_SANDBOX_MAX_MEMORY_MB`, `MCP_SANDBOX_MAX_FUEL`, `MCP_SANDBOX_MAX_SESSIONS`, …);
    /// a malformed or out-of-range value is an error naming the variable and its range.
    public init(environment: [String: String]) throws {
        for variable in Self.variables {
            let name = "MCP_SANDBOX_\(variable.name)"
            guard let text = environment[name] else { continue }
            do { self[keyPath: variable.field] = try LimitBounds.parse(text, name: name, in: variable.range) } catch {
                throw ConfigurationError(error.description)
            }
        }
        if let text = environment["MCP_SANDBOX_BACKEND"], !text.isEmpty {
            do { backend = try SandboxBackendKind(parsing: text) } catch {
                throw ConfigurationError("MCP_SANDBOX_BACKEND: \(error.message)")
            }
        }
        authTokensFile = environment["MCP_SANDBOX_AUTH_TOKENS"].flatMap { $0.isEmpty ? nil : $0 }
        metricsTokensFile = environment["MCP_SANDBOX_METRICS_TOKENS"].flatMap { $0.isEmpty ? nil : $0 }
        publicURL = environment["MCP_SANDBOX_PUBLIC_URL"].flatMap { $0.isEmpty ? nil : $0 }
        if let text = environment["MCP_SANDBOX_AUDIT_CODE"] {
            switch text {
            case "1", "true": auditCode = true
            case "0", "false", "": auditCode = false
            default:
                throw ConfigurationError("MCP_SANDBOX_AUDIT_CODE must be 1, true, 0 or false, got '\(text.prefix(40))'")
            }
        }
        if let text = environment["MCP_SANDBOX_MAX_FUEL"] {
            do {
                maxFuel = UInt64(try LimitBounds.parse(text, name: "MCP_SANDBOX_MAX_FUEL", in: LimitBounds.fuel))
            } catch {
                throw ConfigurationError(error.description)
            }
        }
        try validate()
    }

    /// Checks that every field lies in its range and that defaults fit under maxima.
    public func validate() throws {
        for variable in Self.variables {
            do {
                try LimitBounds.check(
                    self[keyPath: variable.field], name: variable.name.lowercased(), in: variable.range)
            } catch { throw ConfigurationError(error.description) }
        }
        if let maxFuel, maxFuel > UInt64(LimitBounds.fuel.upperBound) || maxFuel < 1 {
            throw ConfigurationError(
                BoundsError(name: "max_fuel", range: LimitBounds.fuel, got: "\(maxFuel)").description)
        }
        if let publicURL {
            guard let url = URL(string: publicURL), ["http", "https"].contains(url.scheme), url.host != nil,
                !publicURL.contains(where: { $0 == "\"" || $0 == "\\" || $0.isWhitespace })
            else {
                throw ConfigurationError("the public URL must be an http or https URL, got '\(publicURL.prefix(200))'")
            }
        }
        guard defaultTimeoutMs <= maxTimeoutMs, defaultMemoryMb <= maxMemoryMb else {
            throw ConfigurationError(
                "defaults must not exceed maxima (timeout \(defaultTimeoutMs)/\(maxTimeoutMs) ms, memory \(defaultMemoryMb)/\(maxMemoryMb) MiB)"
            )
        }
    }
}

/// A configuration value that cannot be used.
public struct ConfigurationError: Error, CustomStringConvertible {
    public var description: String
    init(_ description: String) { self.description = description }
}
