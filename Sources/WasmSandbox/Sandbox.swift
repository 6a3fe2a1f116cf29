import CoreMetrics
import Crypto
import Foundation
import Synchronization
import WasmSandboxWasmKit
import Wasmtime

/// Runs untrusted WebAssembly with hard limits.
///
/// One sandbox holds its Wasmtime engines (with and without fuel metering, each built when a
/// run first needs it), caches of compiled modules and a fixed set of threads. Every execution gets a fresh store, so nothing leaks between runs and one run's
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
    let runtimes: Runtimes
    private let pool: ExecutionThreadPool
    /// Compiles of request modules: bounded, and never on an execution thread.
    private let compilePool: ExecutionThreadPool
    /// Requests waiting for each module being compiled, by runtime and module key.
    private let compilesInFlight = Mutex<[[UInt8]: [CheckedContinuation<Step, Never>]]>([:])
    let ticker: EpochTicker
    let metrics: SandboxMetrics
    let sessionMetrics: SessionMetrics
    let sessionRegistry: SessionRegistry
    /// The backend that runs requests when it is not Wasmtime, the sandbox's own engine.
    let backend: (any SandboxBackend)?
    private let blockingRuns = Atomic<Int>(0)
    /// Session calls waiting for their session's turn (see ``admitSessionWaiter()``).
    let sessionWaiters = Atomic<Int>(0)

    /// Checks the configuration and starts the sandbox's threads; engines and caches are
    /// built when the first run needs them.
    ///
    /// - Throws: ``SandboxError`` for an impossible configuration.
    public init(configuration: SandboxConfiguration = SandboxConfiguration()) throws {
        try configuration.checkExecutionSettings()
        guard configuration.maxConcurrentCompiles > 0, configuration.maxQueuedCompiles >= 0 else {
            throw SandboxError("the sandbox needs at least one compile thread and a non-negative compile queue")
        }
        guard configuration.compileTimeBudget > .zero, configuration.compileMemoryBudget >= 128 << 20 else {
            throw SandboxError("the compile budget needs a positive time and at least 128 MiB of memory")
        }
        let sessions = configuration.sessions
        guard sessions.maxSessions >= 0, sessions.maxTotalMemoryBytes >= 0, sessions.idleTimeout > .zero else {
            throw SandboxError("session caps must not be negative, and the idle timeout must be positive")
        }
        self.configuration = configuration
        let factory = configuration.metricsFactory ?? MetricsSystem.factory
        metrics = SandboxMetrics(factory: factory, backend: configuration.backend)
        sessionMetrics = SessionMetrics(factory: factory)
        sessionRegistry = SessionRegistry(settings: sessions, metrics: sessionMetrics)
        do {
            try Runtime.engineConfiguration(for: configuration, metersFuel: true).validate()
        } catch {
            throw SandboxError("cannot create the Wasmtime engine: \(error.message)")
        }
        pool = configuration.executionThreads()
        compilePool = ExecutionThreadPool(
            threads: configuration.maxConcurrentCompiles, queueCapacity: configuration.maxQueuedCompiles,
            stackSize: 8 << 20, name: "wasm-sandbox-compile")
        ticker = EpochTicker(interval: configuration.checkInterval)
        runtimes = Runtimes(configuration: configuration, ticker: ticker)
        switch configuration.backend {
        case .wasmtime: backend = nil
        case .wasmkit: backend = try WasmKitBackend(configuration: configuration)
        }
    }

    deinit {
        pool.shutdown()
        compilePool.shutdown()
        ticker.shutdown()
    }

    /// Runs a request to completion on a sandbox thread; never blocks the caller's thread.
    ///
    /// A module in no cache is first compiled on a compile thread (in a helper process under
    /// the compile budget), then run on an execution thread. Cancelling the calling task
    /// stops the run (status ``ExecutionResult/Status/cancelled``).
    public func execute(_ request: ExecutionRequest) async -> ExecutionResult {
        let token = CancellationToken()
        return await withTaskCancellationHandler {
            var precompiled: (PreparedModule, ModuleCache.Source)?
            while true {
                let compiled = precompiled
                let step = await submit(to: pool, busy: "all execution slots and the wait queue are full") {
                    [self] in
                    runNow(request, compiled: compiled, compileInline: false, onStart: token.attach)
                }
                guard case .needsCompile(let key, let cache, let job) = step else {
                    guard case .finished(let result) = step else { fatalError("unreachable") }
                    return result
                }
                switch await compile(key: key, cache: cache, job) {
                case .compiled(.success(let module)): precompiled = module
                case .compiled(.failure(let error)): return failed(error)
                case .finished(let busy): return busy
                case .needsCompile: fatalError("unreachable")
                }
                if token.isCancelled { return failed(SandboxError("the run was cancelled"), status: .cancelled) }
            }
        } onCancel: {
            token.cancel()
        }
    }

    /// Runs a request on the calling thread, blocking it. For callers that own their threads,
    /// which must have a stack well above ``SandboxConfiguration/maxWasmStackBytes``. A module
    /// in no cache is compiled on this thread too (in the helper process, under its budget).
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
        guard case .finished(let result) = runNow(request, compiled: nil, compileInline: true, onStart: { _ in })
        else { fatalError("an inline compile never defers") }
        return result
    }

    /// Executions running on the sandbox's threads now.
    var activeExecutions: Int { pool.active }
    /// Executions waiting for a thread now.
    var queuedExecutions: Int { pool.queued }

    /// One step of a request on a sandbox thread.
    private enum Step: Sendable {
        case finished(ExecutionResult)
        /// `key` identifies the module and the runtime it is compiled for.
        case needsCompile(
            key: [UInt8], cache: ModuleCache,
            @Sendable () throws(SandboxError) -> (PreparedModule, ModuleCache.Source))
        case compiled(Result<(PreparedModule, ModuleCache.Source), SandboxError>)
    }

    private func submit(to pool: ExecutionThreadPool, busy: String, _ work: @escaping @Sendable () -> Step) async
        -> Step
    {
        await submit(to: pool, work, refused: { .finished(self.busy(busy)) })
    }

    /// Runs `work` on an execution thread, counted as in flight; `busy` (not yet counted
    /// by status, like `work`'s result) when the threads and the queue are full.
    func runOnPool(_ work: @escaping @Sendable () -> ExecutionResult) async -> ExecutionResult {
        await submit(
            to: pool,
            { [metrics] in
                metrics.runStarted()
                defer { metrics.runEnded() }
                return work()
            }, refused: { ExecutionResult(status: .busy, message: "all execution slots and the wait queue are full") })
    }

    /// ``runOnPool(_:)`` for work that produces a value or an error.
    func attemptOnPool<T: Sendable>(_ work: @escaping @Sendable () throws(SandboxError) -> T) async -> Result<
        T, SandboxError
    > {
        await submit(
            to: pool,
            { [metrics] in
                metrics.runStarted()
                defer { metrics.runEnded() }
                return Result { () throws(SandboxError) in try work() }
            },
            refused: { .failure(SandboxError("all execution slots and the wait queue are full", kind: .busy)) })
    }

    private func busy(_ message: String) -> ExecutionResult {
        let result = ExecutionResult(status: .busy, message: message)
        metrics.record(result)
        return result
    }

    private func submit<T: Sendable>(
        to pool: ExecutionThreadPool, _ work: @escaping @Sendable () -> T, refused: @Sendable () -> T
    ) async -> T {
        await pool.run(work, metrics: metrics, refused: refused)
    }

    /// Compiles on a compile thread. Requests for a module already being compiled wait for
    /// that compile instead of taking a queue slot or a thread of their own.
    private func compile(
        key: [UInt8], cache: ModuleCache,
        _ job: @escaping @Sendable () throws(SandboxError) -> (PreparedModule, ModuleCache.Source)
    ) async -> Step {
        await withCheckedContinuation { continuation in
            enum Role { case first, waiter, refused }
            let role = compilesInFlight.withLock { waiting -> Role in
                if let count = waiting[key]?.count {
                    // Waiters hold their requests: as many as the execution queue, no more.
                    guard count <= configuration.maxQueuedExecutions else { return .refused }
                    waiting[key]!.append(continuation)
                    return .waiter
                }
                waiting[key] = [continuation]
                return .first
            }
            if role == .refused {
                let busy = ExecutionResult(status: .busy, message: "too many requests wait for this module's compile")
                metrics.record(busy)
                continuation.resume(returning: .finished(busy))
            }
            guard role == .first else { return }
            // A compile that finished after this request's lookup left its module in memory
            // (it is stored before its waiters are released).
            if let hit = cache.inMemory(key: Array(key.dropFirst())) {
                finishCompile(key: key, .compiled(.success((hit, .memory))))
                return
            }
            let accepted = compilePool.submit { [self] in
                finishCompile(key: key, .compiled(Result { () throws(SandboxError) in try job() }))
            }
            if !accepted {
                finishCompile(
                    key: key,
                    .finished(ExecutionResult(status: .busy, message: "all compile slots and their queue are full")))
            }
        }
    }

    private func finishCompile(key: [UInt8], _ step: Step) {
        let waiting = compilesInFlight.withLock { $0.removeValue(forKey: key) ?? [] }
        if case .finished(let busy) = step { for _ in waiting { metrics.record(busy) } }
        for continuation in waiting { continuation.resume(returning: step) }
    }

    func failed(_ error: SandboxError, status: ExecutionResult.Status? = nil) -> ExecutionResult {
        let result = failure(error, status: status)
        metrics.record(result)
        return result
    }

    /// The result of a request the sandbox could not carry out, not yet counted.
    func failure(_ error: SandboxError, status: ExecutionResult.Status? = nil) -> ExecutionResult {
        configuration.failure(error, status: status)
    }

    private func runNow(
        _ request: ExecutionRequest, compiled: (PreparedModule, ModuleCache.Source)?, compileInline: Bool,
        onStart: (RunControl) -> Void
    ) -> Step {
        if let backend {
            return .finished(backend.execute(request, configuration: configuration, metrics: metrics, onStart: onStart))
        }
        metrics.runStarted()
        defer { metrics.runEnded() }
        let limits = request.limits ?? configuration.defaultLimits
        var result: ExecutionResult
        do {
            try configuration.check(limits)
            let runtime = try runtimes.runtime(metersFuel: limits.fuel != nil)
            var preparation = try prepare(request, in: runtime, compiled: compiled)
            if case .needsCompile(let code, let key) = preparation {
                let compilation = try self.compilation
                let job: @Sendable () throws(SandboxError) -> (PreparedModule, ModuleCache.Source) = {
                    try runtime.cache.module(for: code, key: key, compilation: compilation)
                }
                guard compileInline else {
                    return .needsCompile(key: [runtime.metersFuel ? 1 : 0] + key, cache: runtime.cache, job)
                }
                let (module, source) = try job()
                preparation = .ready(module, request, source)
            }
            guard case .ready(let module, let guest, let source) = preparation else { fatalError("unreachable") }
            metrics.record(source)
            let run = RunState(limits: limits, progress: request.progress)
            onStart(run.control)
            let execution = Execution(runtime: runtime, module: module, request: guest, limits: limits, run: run)
            let start = MonotonicClock.now()
            result = ticker.whileActive { execution() }
            result.duration = .nanoseconds(Int64(MonotonicClock.now() - start))
            if case .compiled(let elapsed) = source { result.compileDuration = elapsed } else { result.cacheHit = true }
        } catch {
            return .finished(failed(error))
        }
        metrics.record(result)
        return .finished(result)
    }
}
