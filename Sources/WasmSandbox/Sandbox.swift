import CoreMetrics
import Crypto
import Foundation
import Synchronization
import Wasmtime

/// Runs untrusted WebAssembly with hard limits.
///
/// One sandbox holds its Wasmtime engines (with and without fuel metering), caches of
/// compiled modules and a fixed set of threads. Every execution gets a fresh store, so nothing leaks between runs and one run's
/// trap or limit never touches another. Thread-safe; share one per process.
///
/// ```swift
/// let sandbox = try Sandbox()
/// let result = await sandbox.execute(ExecutionRequest(.wat(source)))
/// print(result.status, result.stdoutText)
/// ```
public final class Sandbox: Sendable {
    /// The configuration the sandbox was built with.
    public let configuration: SandboxConfiguration
    /// For runs with a fuel budget.
    let metered: Runtime
    /// For runs without one: the default.
    let unmetered: Runtime
    private let pool: ExecutionThreadPool
    private let ticker: EpochTicker
    private let metrics: SandboxMetrics
    private let blockingRuns = Atomic<Int>(0)

    /// Builds the engine, the thread pool and the module cache.
    ///
    /// - Throws: ``SandboxError`` for an impossible configuration.
    public init(configuration: SandboxConfiguration = SandboxConfiguration()) throws {
        guard configuration.maxConcurrentExecutions > 0, configuration.maxQueuedExecutions >= 0 else {
            throw SandboxError("the sandbox needs at least one execution thread and a non-negative queue")
        }
        guard configuration.maxMemoryBytes >= 65536, configuration.maxMemoryBytes % 65536 == 0 else {
            throw SandboxError("the maximum memory must be a positive multiple of 64 KiB")
        }
        self.configuration = configuration
        metrics = SandboxMetrics(factory: configuration.metricsFactory ?? MetricsSystem.factory)
        do {
            metered = try Runtime(configuration: configuration, metersFuel: true)
            unmetered = try Runtime(configuration: configuration, metersFuel: false)
        } catch {
            throw SandboxError("cannot create the Wasmtime engine: \(error.message)")
        }
        pool = ExecutionThreadPool(
            threads: configuration.maxConcurrentExecutions,
            queueCapacity: configuration.maxQueuedExecutions,
            // Host calls and Wasmtime's own frames need room beyond the Wasm stack limit.
            stackSize: 2 * configuration.maxWasmStackBytes + (8 << 20))
        ticker = EpochTicker(engines: [metered.engine, unmetered.engine], interval: configuration.checkInterval)
    }

    deinit {
        pool.shutdown()
        ticker.shutdown()
    }

    /// Runs a request to completion on a sandbox thread; never blocks the caller's thread.
    ///
    /// Cancelling the calling task stops the run (status ``ExecutionResult/Status/cancelled``).
    public func execute(_ request: ExecutionRequest) async -> ExecutionResult {
        let token = CancellationToken()
        return await withTaskCancellationHandler {
            await withCheckedContinuation { continuation in
                let accepted = pool.submit { [self] in
                    continuation.resume(returning: runNow(request, onStart: token.attach))
                }
                if !accepted {
                    let busy = ExecutionResult(
                        status: .busy, message: "all execution slots and the wait queue are full")
                    metrics.record(busy)
                    continuation.resume(returning: busy)
                }
                metrics.queueDepth.record(pool.queued)
            }
        } onCancel: {
            token.cancel()
        }
    }

    /// Runs a request on the calling thread, blocking it. For callers that own their threads,
    /// which must have a stack well above ``SandboxConfiguration/maxWasmStackBytes``.
    ///
    /// At most ``SandboxConfiguration/maxConcurrentExecutions`` blocking calls run at once;
    /// more get `busy` at once.
    public func executeBlocking(_ request: ExecutionRequest) -> ExecutionResult {
        let admitted = blockingRuns.add(1, ordering: .relaxed).newValue
        defer { blockingRuns.subtract(1, ordering: .relaxed) }
        guard admitted <= configuration.maxConcurrentExecutions else {
            let busy = ExecutionResult(status: .busy, message: "all blocking execution slots are in use")
            metrics.record(busy)
            return busy
        }
        return runNow(request, onStart: { _ in })
    }

    private func runNow(_ request: ExecutionRequest, onStart: (RunControl) -> Void) -> ExecutionResult {
        metrics.inFlight.record(pool.active)
        let limits = request.limits ?? configuration.defaultLimits
        var result: ExecutionResult
        do {
            try check(limits)
            let runtime = limits.fuel == nil ? unmetered : metered
            let (module, guest, source) = try prepare(request, in: runtime)
            metrics.record(source)
            let run = RunState(limits: limits)
            onStart(run.control)
            let execution = Execution(runtime: runtime, module: module, request: guest, limits: limits, run: run)
            let start = MonotonicClock.now()
            result = ticker.whileActive { execution() }
            result.duration = .nanoseconds(Int64(MonotonicClock.now() - start))
            if case .compiled = source {} else { result.cacheHit = true }
        } catch {
            result = ExecutionResult(
                status: error.kind == .internalError ? .internalError : .invalidInput, message: error.message)
        }
        metrics.record(result)
        return result
    }

    private func check(_ limits: ExecutionLimits) throws(SandboxError) {
        guard limits.memoryBytes > 0, limits.memoryBytes <= configuration.maxMemoryBytes else {
            throw SandboxError(
                "memory limit \(limits.memoryBytes) bytes is outside 1...\(configuration.maxMemoryBytes) bytes")
        }
        guard limits.timeout > .zero else { throw SandboxError("timeout must be positive") }
        guard limits.stdoutBytes >= 0, limits.stderrBytes >= 0 else {
            throw SandboxError("output caps must not be negative")
        }
    }
}
