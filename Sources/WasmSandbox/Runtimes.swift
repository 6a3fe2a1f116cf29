import Synchronization

/// The sandbox's two runtimes (see ``Runtime``), each built when a run first needs it.
///
/// Building one creates a Wasmtime engine and, with the pooling allocator, reserves and
/// protects address space for every slot: tens of milliseconds that a process running one
/// request without a fuel budget should not pay twice.
final class Runtimes: Sendable {
    private let configuration: SandboxConfiguration
    private let ticker: EpochTicker
    /// Indexed by whether the runtime meters fuel.
    private let built = Mutex<[Runtime?]>([nil, nil])

    init(configuration: SandboxConfiguration, ticker: EpochTicker) {
        self.configuration = configuration
        self.ticker = ticker
    }

    /// The runtime for runs with (`metersFuel`) or without a fuel budget, built on first use.
    ///
    /// A failure is not remembered: the next run tries again (address space may have been
    /// short only for a moment).
    func runtime(metersFuel: Bool) throws(SandboxError) -> Runtime {
        let index = metersFuel ? 1 : 0
        return try built.withLock { (runtimes: inout [Runtime?]) throws(SandboxError) -> Runtime in
            if let runtime = runtimes[index] { return runtime }
            do {
                let runtime = try Runtime(configuration: configuration, metersFuel: metersFuel)
                ticker.add(runtime.engine)
                runtimes[index] = runtime
                return runtime
            } catch {
                throw SandboxError("cannot create the Wasmtime engine: \(error)", kind: .internalError)
            }
        }
    }
}
