import Metrics
import Synchronization
import WasmSandbox

/// Metrics by client and the counts of security-relevant events, through swift-metrics.
///
/// The client label's values are bounded: at most ``maxClients`` names get series of their
/// own (the tokens file holds at most a thousand, but reloads can bring new ones); later
/// names are counted under `other`. Handles are made once per name.
final class ClientMetrics: Sendable {
    /// Events an operator watches for: refused credentials, quota refusals, runs the sandbox
    /// stopped at a limit, and requests naming another client's session.
    enum SecurityEvent: String, CaseIterable, Sendable {
        case authMissing = "auth_missing"
        case authInvalid = "auth_invalid"
        case quotaRefused = "quota_refused"
        case sessionOfAnotherClient = "session_of_another_client"
        case timedOut = "timed_out"
        case outOfFuel = "out_of_fuel"
        case memoryLimit = "memory_limit"
        case outputLimit = "output_limit"
    }

    static let maxClients = 1_100

    private struct ClientSeries {
        let calls: Counter
        let runSeconds: FloatingPointCounter
        let refusals: Counter
    }

    private let factory: any MetricsFactory
    private let security: [SecurityEvent: Counter]
    private let series = Mutex<[String: ClientSeries]>([:])

    init(factory: any MetricsFactory = MetricsSystem.factory) {
        self.factory = factory
        security = counters("wasm_sandbox_security_events_total", by: "event", factory: factory)
    }

    func record(_ event: SecurityEvent) { security[event]?.increment() }

    /// Counts a tool call by `client`, the run time it used, and whether a quota refused it.
    func recordCall(client: String, runSeconds: Double, refused: Bool) {
        let handles = handles(for: client)
        handles.calls.increment()
        if runSeconds > 0 { handles.runSeconds.increment(by: runSeconds) }
        if refused { handles.refusals.increment() }
    }

    private func handles(for client: String) -> ClientSeries {
        series.withLock { series in
            let name = series[client] != nil || series.count < Self.maxClients - 1 ? client : "other"
            if let existing = series[name] { return existing }
            let dimensions = [("client", name)]
            let made = ClientSeries(
                calls: Counter(label: "wasm_sandbox_client_calls_total", dimensions: dimensions, factory: factory),
                runSeconds: FloatingPointCounter(
                    label: "wasm_sandbox_client_run_seconds_total", dimensions: dimensions, factory: factory),
                refusals: Counter(
                    label: "wasm_sandbox_client_quota_refusals_total", dimensions: dimensions, factory: factory))
            series[name] = made
            return made
        }
    }
}
