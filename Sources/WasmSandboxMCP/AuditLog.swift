import Crypto
import Foundation
import Logging
import MCP
import Synchronization

/// The audit trail: one log line per tool call (event `call`), whatever its transport, and
/// one per refused request (event `auth_failure`, at most ``maxFailureLines`` per reason per
/// ten seconds so that a flood of bad tokens cannot flood the log; the next line says how many
/// were left out). Everything is metadata, which ``JSONLogHandler`` writes as one JSON object per line.
///
/// A call's line names the client, its MCP session, the tool, and for `execute_code` the
/// language, the SHA-256 and size of the code (the code itself only with
/// ``MCPServerConfiguration/auditCode``), the limits that applied, the status, the run's and
/// the call's durations, and the bytes of output and files it produced.
final class AuditLog: Sendable {
    let logger: Logger
    let includeCode: Bool
    let metrics: ClientMetrics
    /// Per reason, so that a flood of one kind (no token) cannot hide another (a client
    /// reaching for another's session).
    private let failures = Mutex<
        [ClientMetrics.SecurityEvent: (windowStart: ContinuousClock.Instant, logged: Int, suppressed: Int)]
    >([:])

    static let maxFailureLines = 20

    init(logger: Logger, includeCode: Bool, metrics: ClientMetrics) {
        self.logger = logger
        self.includeCode = includeCode
        self.metrics = metrics
    }

    /// Who made a call: the client's name (from its token, or `stdio`, `anonymous`, `library`)
    /// and its connection (an HTTP session's id, `stdio`, `library`).
    struct Caller: Sendable {
        var client: String
        var session: String
        /// Whether the client's quotas apply: only to clients known by a token.
        var authenticated: Bool

        /// A caller of the library's own entry points, outside any MCP connection.
        static let library = Caller(client: "library", session: "library", authenticated: false)
    }

    func call(
        _ tool: String, arguments: [String: Value]?, result: CallTool.Result, caller: Caller, elapsed: Duration,
        refusal: ClientQuotas.Refusal?
    ) {
        let structured = result.structuredContent?.objectValue ?? [:]
        let status = structured["status"]?.stringValue ?? ((result.isError ?? false) ? "error" : "ok")
        let isRun = tool == ToolDefinitions.executeCode.name
        let duration = structured["duration_ms"]?.doubleValue ?? structured["duration_ms"]?.intValue.map(Double.init)
        if isRun, let event = ClientMetrics.SecurityEvent(rawValue: status), Self.limitStops.contains(event) {
            metrics.record(event)
        }
        if refusal != nil { metrics.record(.quotaRefused) }
        metrics.recordCall(
            client: caller.client, runSeconds: isRun ? (duration ?? 0) / 1_000 : 0, refused: refusal != nil)
        // Hashing the code and building the line cost more than the rest of the call's
        // bookkeeping: not for a logger that drops it.
        guard logger.logLevel <= .info else { return }
        var line: Logger.Metadata = [
            "event": "call", "client": .string(caller.client), "session": .string(caller.session),
            "tool": .string(Self.clip(tool, bytes: 64)), "is_error": .stringConvertible(result.isError ?? false),
            "elapsed_ms": .stringConvertible(elapsed.millisecondsValue), "status": .string(status),
        ]
        if let refusal { line["quota"] = .string(refusal.quota) }
        if isRun {
            let arguments = arguments ?? [:]
            if let language = arguments[ExecuteCodeField.language.name]?.stringValue {
                line["language"] = .string(Self.clip(language, bytes: 32))
            }
            if let code = arguments[ExecuteCodeField.code.name]?.stringValue {
                let bytes = Array(code.utf8)
                line["code_sha256"] = .string(AuthTokens.hex(SHA256.hash(data: bytes)))
                line["code_bytes"] = .stringConvertible(bytes.count)
                if includeCode { line["code"] = .string(code) }
            }
            if let name = arguments[ExecuteCodeField.sessionID.name]?.stringValue {
                line["code_session"] = .string(Self.clip(name, bytes: 128))
            }
            if let limits = structured["limits"] { line["limits"] = Self.metadata(limits) }
            if let duration { line["duration_ms"] = .stringConvertible(duration) }
            let stdout = structured["stdout"]?.stringValue?.utf8.count ?? 0
            let stderr = structured["stderr"]?.stringValue?.utf8.count ?? 0
            let value = structured["value"]?.stringValue?.utf8.count ?? 0
            let files = structured["files"]?.arrayValue ?? []
            let fileBytes = files.reduce(0) { $0 + ($1.objectValue?["size"]?.intValue ?? 0) }
            line["stdout_bytes"] = .stringConvertible(stdout)
            line["stderr_bytes"] = .stringConvertible(stderr)
            line["files"] = .stringConvertible(files.count)
            line["files_bytes"] = .stringConvertible(fileBytes)
            line["bytes_out"] = .stringConvertible(stdout + stderr + value + fileBytes)
        }
        logger.info("call", metadata: line)
    }

    /// The statuses of runs the sandbox stopped at a limit, counted as security events.
    private static let limitStops: Set<ClientMetrics.SecurityEvent> = [
        .timedOut, .outOfFuel, .memoryLimit, .outputLimit,
    ]

    /// A request refused for its credentials (or for naming another client's session).
    func authFailure(_ event: ClientMetrics.SecurityEvent, path: String, client: String? = nil) {
        metrics.record(event)
        let now = ContinuousClock.now
        let suppressed: Int? = failures.withLock { failures in
            var state = failures[event] ?? (now, 0, 0)
            defer { failures[event] = state }
            if now - state.windowStart >= .seconds(10) {
                state = (now, 0, state.suppressed)
            }
            guard state.logged < Self.maxFailureLines else {
                state.suppressed += 1
                return nil
            }
            state.logged += 1
            defer { state.suppressed = 0 }
            return state.suppressed
        }
        guard let suppressed else { return }
        var line: Logger.Metadata = [
            "event": "auth_failure", "reason": .string(event.rawValue), "path": .string(Self.clip(path, bytes: 200)),
        ]
        if let client { line["client"] = .string(client) }
        if suppressed > 0 { line["suppressed_before"] = .stringConvertible(suppressed) }
        logger.notice("auth_failure", metadata: line)
    }

    /// At most `bytes` of UTF-8 of a client's text, whole scalars only, control characters
    /// replaced: short fields (a tool's or a session's name) stay short and on one line
    /// whatever handler writes them. A grapheme-counted `prefix` would keep a letter followed
    /// by a million combining marks whole.
    static func clip(_ text: String, bytes: Int) -> String {
        var out = String.UnicodeScalarView()
        var used = 0
        for scalar in text.unicodeScalars {
            let size = UTF8.width(scalar)
            guard used + size <= bytes else { break }
            used += size
            out.append(scalar.properties.generalCategory == .control ? "\u{FFFD}" : scalar)
        }
        return String(out)
    }

    private static func metadata(_ value: Value) -> Logger.MetadataValue {
        switch value {
        case .null: .string("null")
        case .bool(let flag): .stringConvertible(flag)
        case .int(let number): .stringConvertible(number)
        case .double(let number): .stringConvertible(number)
        case .string(let text): .string(text)
        case .data(_, let bytes): .string("\(bytes.count) bytes")
        case .array(let items): .array(items.map(metadata))
        // swift-log has no null: a field without a value is left out.
        case .object(let fields): .dictionary(fields.filter { $0.value != .null }.mapValues(metadata))
        }
    }
}
