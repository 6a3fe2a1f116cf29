import Foundation
import MCP
import Synchronization
import WasmSandbox

/// What one authenticated client may use of the HTTP server, whatever the number of its
/// connections and sessions: runs at once, tool calls per window, and run time per window.
public struct QuotaLimits: Sendable, Equatable {
    /// `execute_code` calls running at once.
    public var concurrentRuns = 4
    /// Tool calls of any kind per window.
    public var callsPerMinute = 300
    /// Run time (the measured duration of its runs) per window, in seconds.
    public var cpuSecondsPerMinute = 60
    /// MCP sessions open at once (HTTP).
    public var sessions = 16
    /// Code sessions (`execute_code` with `session_id`) open at once, over all its MCP
    /// sessions; 0 allows none.
    public var codeSessions = 8

    public init() {}
}

/// The quota settings of one line of the tokens file (`concurrent_runs=8`); those it does not
/// set come from the server's defaults.
public struct QuotaOverrides: Sendable, Equatable {
    public var concurrentRuns: Int?
    public var callsPerMinute: Int?
    public var cpuSecondsPerMinute: Int?
    public var sessions: Int?
    public var codeSessions: Int?

    public init() {}

    static var settings: [(name: String, field: WritableKeyPath<Self, Int?>, range: ClosedRange<Int>)] {
        [
            ("concurrent_runs", \.concurrentRuns, LimitBounds.concurrentExecutions),
            ("calls_per_minute", \.callsPerMinute, LimitBounds.quotaCalls),
            ("cpu_seconds_per_minute", \.cpuSecondsPerMinute, LimitBounds.quotaSeconds),
            ("sessions", \.sessions, LimitBounds.sessions),
            ("code_sessions", \.codeSessions, LimitBounds.codeSessions),
        ]
    }

    /// Reads one `name=value` setting.
    mutating func set(_ text: Substring) throws(ConfigurationError) {
        let parts = text.split(separator: "=", maxSplits: 1)
        guard parts.count == 2, let setting = Self.settings.first(where: { $0.name == parts[0] }) else {
            throw ConfigurationError(
                "unknown setting '\(text.prefix(80))': the settings are \(Self.settings.map { "\($0.name)=N" }.joined(separator: ", "))"
            )
        }
        guard self[keyPath: setting.field] == nil else {
            throw ConfigurationError("'\(setting.name)' is set twice")
        }
        do {
            self[keyPath: setting.field] = try LimitBounds.parse(
                String(parts[1]), name: setting.name, in: setting.range)
        } catch {
            throw ConfigurationError(error.description)
        }
    }

    /// The limits these settings give over `defaults`.
    public func applied(to defaults: QuotaLimits) -> QuotaLimits {
        var limits = defaults
        limits.concurrentRuns = concurrentRuns ?? defaults.concurrentRuns
        limits.callsPerMinute = callsPerMinute ?? defaults.callsPerMinute
        limits.cpuSecondsPerMinute = cpuSecondsPerMinute ?? defaults.cpuSecondsPerMinute
        limits.sessions = sessions ?? defaults.sessions
        limits.codeSessions = codeSessions ?? defaults.codeSessions
        return limits
    }
}

/// Every authenticated client's use of its quotas. Windows are fixed: a client's first call
/// starts one, and its counts start again when it is over. Run time is held against the budget
/// while a run goes on (its whole timeout, which is also cut down to what the budget has left)
/// and charged as measured when it ends, so that a client's runs cannot spend more than its
/// budget by running many at once.
///
/// Memory is one entry per client name the tokens file has named, each a few words.
final class ClientQuotas: Sendable {
    private struct Usage {
        var limits: QuotaLimits
        var windowStart: ContinuousClock.Instant
        var calls = 0
        var used: Duration = .zero
        var reserved: Duration = .zero
        var running = 0
        /// Its code sessions (pruned of closed ones when counted) and those being opened.
        var codeSessions: [SandboxSession] = []
        var openingCodeSessions = 0
    }

    private let usage = Mutex<[String: Usage]>([:])
    let window: Duration

    init(window: Duration) { self.window = window }

    /// A call refused because its client is over a quota: which one, its limit, and when it
    /// frees up (`resetsIn`, for the per-minute quotas) or what frees it (`frees`).
    struct Refusal: Sendable, Error {
        var quota: String
        var limit: Int
        var resetsIn: Duration?
        var frees = "a slot frees when one of its runs ends"

        var message: String {
            let when = resetsIn.map { "it resets in \(String(format: "%.1f", $0.secondsValue)) s" } ?? frees
            return "client quota '\(quota)' (\(limit)) is used up: \(when); other clients are not affected"
        }

        /// The refusal as structured content: `quota` with its name, limit and reset time.
        var fields: [String: Value] {
            [
                "quota": .object([
                    "name": .string(quota), "limit": .int(limit),
                    "resets_in_seconds": resetsIn.map { .double($0.millisecondsValue / 1_000) } ?? .null,
                ])
            ]
        }

    }

    /// Sets the clients and their limits (at start and on every reload of the tokens file).
    /// Usage of the clients still named is kept; a client no longer named is forgotten once
    /// its runs end.
    func setClients(_ limits: [String: QuotaLimits]) {
        let now = ContinuousClock.now
        usage.withLock { usage in
            usage = usage.filter { limits[$0.key] != nil || $0.value.running > 0 }
            for (client, clientLimits) in limits {
                usage[client, default: Usage(limits: clientLimits, windowStart: now)].limits = clientLimits
            }
        }
    }

    /// Counts a call by `client`; a run (`execute_code`) also takes one of its concurrent
    /// slots, given back by ``runEnded(client:reserved:used:)``. Clients the quotas do not
    /// know (unauthenticated, stdio) are not limited.
    func admit(client: String, run: Bool) throws(Refusal) {
        let now = ContinuousClock.now
        let refusal: Refusal? = usage.withLock { usage in
            guard var entry = usage[client] else { return nil }
            if now - entry.windowStart >= window {
                entry.windowStart = now
                entry.calls = 0
                entry.used = .zero
            }
            let resetsIn = entry.windowStart + window - now
            if entry.calls >= entry.limits.callsPerMinute {
                return Refusal(quota: "calls_per_minute", limit: entry.limits.callsPerMinute, resetsIn: resetsIn)
            }
            if run {
                if entry.running >= entry.limits.concurrentRuns {
                    return Refusal(quota: "concurrent_runs", limit: entry.limits.concurrentRuns, resetsIn: nil)
                }
                if entry.used + entry.reserved >= .seconds(entry.limits.cpuSecondsPerMinute) {
                    return Refusal(
                        quota: "cpu_seconds_per_minute", limit: entry.limits.cpuSecondsPerMinute, resetsIn: resetsIn)
                }
                entry.running += 1
            }
            entry.calls += 1
            usage[client] = entry
            return nil
        }
        if let refusal { throw refusal }
    }

    /// Holds up to `timeout` of `client`'s run time for a run about to start, and returns
    /// what was held: `timeout`, or less when the budget has less left (`nil` for a client
    /// without quotas, which keeps its timeout). Nothing left is a refusal.
    func reserve(client: String, timeout: Duration) throws(Refusal) -> Duration? {
        let now = ContinuousClock.now
        let outcome: Result<Duration?, Refusal> = usage.withLock { usage in
            guard var entry = usage[client] else { return .success(nil) }
            let budget = Duration.seconds(entry.limits.cpuSecondsPerMinute)
            let left = budget - entry.used - entry.reserved
            guard left > .zero else {
                return .failure(
                    Refusal(
                        quota: "cpu_seconds_per_minute", limit: entry.limits.cpuSecondsPerMinute,
                        resetsIn: entry.windowStart + window - now))
            }
            let held = min(timeout, left)
            entry.reserved += held
            usage[client] = entry
            return .success(held)
        }
        return try outcome.get()
    }

    /// The limits of `client`; `nil` for a client without quotas.
    func limits(for client: String) -> QuotaLimits? { usage.withLock { $0[client]?.limits } }

    /// Takes one of `client`'s code-session slots for a session about to open; give it back
    /// with ``codeSessionOpened(client:_:)``. `false` for a client without quotas.
    func reserveCodeSession(client: String) throws(Refusal) -> Bool {
        let refusal: Refusal?? = usage.withLock { usage in
            guard var entry = usage[client] else { return .some(nil) }
            entry.codeSessions.removeAll { !$0.isOpen }
            defer { usage[client] = entry }
            guard entry.codeSessions.count + entry.openingCodeSessions < entry.limits.codeSessions else {
                return Refusal(
                    quota: "code_sessions", limit: entry.limits.codeSessions, resetsIn: nil,
                    frees: "close one of its sessions (close_session) first")
            }
            entry.openingCodeSessions += 1
            return .none
        }
        switch refusal {
        case .some(.some(let refusal)): throw refusal
        case .some(.none): return false
        case .none: return true
        }
    }

    /// A code session reserved by ``reserveCodeSession(client:)`` opened (or failed to: `nil`).
    func codeSessionOpened(client: String, _ session: SandboxSession?) {
        usage.withLock { usage in
            guard var entry = usage[client] else { return }
            entry.openingCodeSessions -= 1
            if let session { entry.codeSessions.append(session) }
            usage[client] = entry
        }
    }

    /// A run admitted by ``admit(client:run:)`` ended: its slot is free, what it held is
    /// released and what it used is charged.
    func runEnded(client: String, reserved: Duration, used: Duration) {
        usage.withLock { usage in
            guard var entry = usage[client] else { return }
            entry.running -= 1
            entry.reserved = max(.zero, entry.reserved - reserved)
            entry.used += used
            usage[client] = entry
        }
    }
}

/// One call's dealings with its client's quotas: admitted, run time held for its run and
/// charged as measured, everything given back when the call ends.
final class RunBudget: Sendable {
    private let quotas: ClientQuotas
    let client: String
    private let state = Mutex<(run: Bool, held: Duration, used: Duration)>((false, .zero, .zero))

    init(quotas: ClientQuotas, client: String) {
        self.quotas = quotas
        self.client = client
    }

    func admit(run: Bool) throws(ClientQuotas.Refusal) {
        try quotas.admit(client: client, run: run)
        if run { state.withLock { $0.run = true } }
    }

    /// The part of `timeout` the run may use; see ``ClientQuotas/reserve(client:timeout:)``.
    func hold(_ timeout: Duration) throws(ClientQuotas.Refusal) -> Duration {
        guard let held = try quotas.reserve(client: client, timeout: timeout) else { return timeout }
        state.withLock { $0.held += held }
        return held
    }

    func charge(_ used: Duration) { state.withLock { $0.used += used } }

    /// Opens a code session with `open` when the client has a code-session slot left.
    func openCodeSession(_ open: () async throws -> SandboxSession) async throws -> SandboxSession {
        guard try quotas.reserveCodeSession(client: client) else { return try await open() }
        do {
            let session = try await open()
            quotas.codeSessionOpened(client: client, session)
            return session
        } catch {
            quotas.codeSessionOpened(client: client, nil)
            throw error
        }
    }

    /// Gives back the run's slot and what it held, charging what it used.
    func end() {
        let (run, held, used) = state.withLock { state in
            defer { state = (false, .zero, .zero) }
            return state
        }
        guard run else { return }
        quotas.runEnded(client: client, reserved: held, used: used)
    }
}
