import Metrics

/// The sessions' metrics: how many are open, their calls by status, and why they closed.
struct SessionMetrics: Sendable {
    /// A meter, as the sandbox's in-flight count is: opens and closes land on many threads.
    private let open: Meter
    private let calls: [ExecutionResult.Status: Counter]
    private let closes: [SandboxSession.CloseReason: Counter]

    init(factory: any MetricsFactory) {
        open = Meter(label: "wasm_sandbox_sessions_open", factory: factory)
        calls = counters("wasm_sandbox_session_calls_total", by: "status", factory: factory)
        closes = counters("wasm_sandbox_sessions_closed_total", by: "reason", factory: factory)
    }

    func opened() { open.increment() }

    func closed(_ reason: SandboxSession.CloseReason) {
        open.decrement()
        closes[reason]?.increment()
    }

    func call(_ status: ExecutionResult.Status) { calls[status]?.increment() }
}
