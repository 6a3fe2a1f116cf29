import CoreMetrics
import WasmSandboxCore

/// Runs untrusted WebAssembly and JavaScript on WasmKit alone, for packages that must not
/// link libwasmtime (hosts that forbid JIT compilation, builds with no setup script).
///
/// The same requests, limits and results as the full library's `Sandbox` with
/// ``SandboxBackendKind/wasmkit``, and the same fresh store per run; it has no code
/// sessions and no Python (see ``WasmKitBackend``). Thread-safe; share one per process.
///
/// ```swift
/// let sandbox = try WasmKitSandbox()
/// let result = await sandbox.execute(ExecutionRequest(.wat(source)))
/// ```
public final class WasmKitSandbox: Sendable {
    /// The configuration the sandbox was built with (its backend is always WasmKit).
    public let configuration: SandboxConfiguration
    private let backend: WasmKitBackend
    private let pool: ExecutionThreadPool
    private let metrics: SandboxMetrics

    /// Checks the configuration and starts the sandbox's threads.
    ///
    /// - Throws: ``SandboxError`` for an impossible configuration.
    public init(configuration: SandboxConfiguration = SandboxConfiguration()) throws {
        var configuration = configuration
        configuration.backend = .wasmkit
        try configuration.checkExecutionSettings()
        self.configuration = configuration
        backend = try WasmKitBackend(configuration: configuration)
        metrics = SandboxMetrics(factory: configuration.metricsFactory ?? MetricsSystem.factory, backend: .wasmkit)
        pool = configuration.executionThreads()
    }

    deinit { pool.shutdown() }

    /// Runs a request to completion on a sandbox thread; never blocks the caller's thread.
    /// Cancelling the calling task stops the run at its next host call.
    public func execute(_ request: ExecutionRequest) async -> ExecutionResult {
        let token = CancellationToken()
        return await withTaskCancellationHandler {
            await pool.run(
                { [self] in executeBlocking(request, onStart: token.attach) }, metrics: metrics,
                refused: { [metrics] in
                    let busy = ExecutionResult(
                        status: .busy, message: "all execution slots and the wait queue are full")
                    metrics.record(busy)
                    return busy
                })
        } onCancel: {
            token.cancel()
        }
    }

    /// Runs a request on the calling thread, blocking it. The thread needs a stack well
    /// above the interpreter's own frames (8 MiB is plenty).
    public func executeBlocking(_ request: ExecutionRequest) -> ExecutionResult {
        executeBlocking(request, onStart: { _ in })
    }

    private func executeBlocking(_ request: ExecutionRequest, onStart: (RunControl) -> Void) -> ExecutionResult {
        backend.execute(request, configuration: configuration, metrics: metrics, onStart: onStart)
    }
}
