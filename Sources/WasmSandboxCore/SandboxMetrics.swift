import Metrics

/// The sandbox's metrics, reported through swift-metrics to whatever backend the process
/// bootstraps (Prometheus, StatsD, …). Handles are made once, not per execution.
package struct SandboxMetrics: Sendable {
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

    package init(factory: any MetricsFactory, backend: SandboxBackendKind = .wasmtime) {
        // Which engine runs this process's requests, as an info metric (always 1).
        Gauge(label: "wasm_sandbox_backend_info", dimensions: [("backend", backend.rawValue)], factory: factory)
            .record(1)
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
    package func runStarted() { inFlight.increment() }

    /// A run gave its thread back.
    package func runEnded() { inFlight.decrement() }

    /// A run entered the wait queue.
    package func enqueued() { queueDepth.increment() }

    /// A run left the wait queue: it got a thread, or was refused.
    package func dequeued() { queueDepth.decrement() }

    package func record(_ result: ExecutionResult) {
        runs[result.status]?.increment()
        latency.recordNanoseconds(Int64(clamping: result.duration.nanoseconds))
    }

    package func record(_ source: ModuleSource) {
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
