import Metrics

/// The sandbox's metrics, reported through swift-metrics to whatever backend the process
/// bootstraps (Prometheus, StatsD, …). Handles are made once, not per execution.
struct SandboxMetrics: Sendable {
    private let runs: [ExecutionResult.Status: Counter]
    private let latency: Timer
    let inFlight: Gauge
    let queueDepth: Gauge
    private let cacheHits: Counter
    private let cacheMisses: Counter
    private let compileTime: Timer

    init(factory: any MetricsFactory) {
        runs = Dictionary(
            uniqueKeysWithValues: ExecutionResult.Status.allCases.map {
                let dimensions = [("status", $0.rawValue)]
                return ($0, Counter(label: "wasm_sandbox_executions_total", dimensions: dimensions, factory: factory))
            })
        latency = Timer(
            label: "wasm_sandbox_execution_duration_seconds", preferredDisplayUnit: .seconds, factory: factory)
        inFlight = Gauge(label: "wasm_sandbox_executions_in_flight", factory: factory)
        queueDepth = Gauge(label: "wasm_sandbox_queue_depth", factory: factory)
        cacheHits = Counter(label: "wasm_sandbox_module_cache_hits_total", factory: factory)
        cacheMisses = Counter(label: "wasm_sandbox_module_cache_misses_total", factory: factory)
        compileTime = Timer(
            label: "wasm_sandbox_module_compile_duration_seconds", preferredDisplayUnit: .seconds, factory: factory)
    }

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
