import Foundation

/// An engine that runs requests: the seam between the sandbox and whatever executes Wasm.
///
/// The sandbox owns the threads, checks limits and counts metrics; a backend compiles,
/// instantiates with WASI and the run's limits, runs, and says how the run ended. Its
/// ``RunState`` carries the deadline, the output buffers and the file quota, shared with
/// whoever may stop the run.
package protocol SandboxBackend: Sendable {
    var kind: SandboxBackendKind { get }
    /// Runs one request to completion on the calling thread (a sandbox thread), within
    /// `limits` (already checked). `duration` is set by the caller.
    ///
    /// - Throws: ``SandboxError`` when the request cannot be carried out (bad input, an
    ///   engine that cannot start); how the guest's run ended is the result, never an error.
    func run(_ request: ExecutionRequest, limits: ExecutionLimits, state: RunState) throws(SandboxError)
        -> ExecutionResult
}

extension SandboxBackend {
    /// One request as a caller sees it: limits checked, its run state made and handed to
    /// `onStart` (so that cancelling can stop it), timed and counted.
    package func execute(
        _ request: ExecutionRequest, configuration: SandboxConfiguration, metrics: SandboxMetrics,
        onStart: (RunControl) -> Void
    ) -> ExecutionResult {
        metrics.runStarted()
        defer { metrics.runEnded() }
        let limits = request.limits ?? configuration.defaultLimits
        var result: ExecutionResult
        do {
            try configuration.check(limits)
            let state = RunState(limits: limits, progress: request.progress)
            onStart(state.control)
            let start = MonotonicClock.now()
            result = try run(request, limits: limits, state: state)
            result.duration = .nanoseconds(Int64(MonotonicClock.now() - start))
        } catch {
            result = configuration.failure(error)
        }
        metrics.record(result)
        return result
    }
}
