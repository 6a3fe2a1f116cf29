import Metrics

/// The sandbox's metrics, reported through swift-metrics to whatever backend the process
/// bootstraps (Prometheus, StatsD, …). Handles are made once, not per execution.
struct SandboxMetrics: Sendable {
    private let runs: [ExecutionResult.Status: Counter]
    private let latency: Timer
    /// Runs on a sandbox thread (pooled or blocking) now. A meter, not a gauge: runs end on
    /// many threads at once, and increments and decrements land in any order with the same
    /// total, where recording a count read from elsewhere could leave a stale value last.
    private let inFlight: Meter
    /// Runs waiting for an execution thread now; a meter for the same reason.
    private let queueDepth: Meter
    private let cacheHits: Counter
    private let cacheMisses: Counter
    private let compileTime: Timer

    init(factory: any MetricsFactory) {
        runs = counters("wasm_sandbox_executions_total", by: "status", factory: factory)
        latency = Timer(
            label: "wasm_sandbox_execution_duration_seconds", preferredDisplayUnit: .seconds, factory: factory)
        inFlight = Meter(label: "wasm_sandbox_executions_in_flight", factory: factory)
        queueDepth = Meter(label: "wasm_sandbox_queue_depth", factory: factory)
        cacheHits = Counter(label: "wasm_sandbox_module_cache_hits_total", factory: factory)
        cacheMisses = Counter(label: "wasm_sandbox_module_cache_misses_total", factory: factory)
        compileTime = Timer(
            label: "wasm_sandbox_module_compile_duration_seconds", preferredDisplayUnit: .seconds, factory: factory)
    }

    /// A run took a sandbox thread. Each call is paired with one of ``runEnded()`` by a
    /// `defer`, so that every way out of a run (result, error, deferral to a compile) counts.
    func runStarted() { inFlight.increment() }

    /// A run gave its thread back.
    func runEnded() { inFlight.decrement() }

    /// A run entered the wait queue.
    func enqueued() { queueDepth.increment() }

    /// A run left the wait queue: it got a thread, or was refused.
    func dequeued() { queueDepth.decrement() }

    func record(_ result: ExecutionResult) {
        runs[result.status]?.increment()
        latency.recordNanoseconds(Int64(clamping: result.duration.nanoseconds))
    }

    func record(_ source: ModuleCache.Source) {
        switch source {
        case .memory, .disk: cacheHits.increment()
        case .compiled(let elapsed):
            cacheMisses.increment()
            compileTime.recordNanoseconds(Int64(clamping: elapsed.nanoseconds))
        }
    }
}

/// One counter per case of `Key`, told apart by the dimension `dimension` (its raw value).
/// Shared with the MCP server's metrics.
package func counters<Key: CaseIterable & RawRepresentable & Hashable>(
    _ label: String, by dimension: String, factory: any MetricsFactory
) -> [Key: Counter] where Key.RawValue == String {
    Dictionary(
        uniqueKeysWithValues: Key.allCases.map {
            ($0, Counter(label: label, dimensions: [(dimension, $0.rawValue)], factory: factory))
        })
}
