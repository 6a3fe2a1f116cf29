/// A few threads of the sandbox's own for blocking file work (workspaces), so that async
/// callers never block Swift's cooperative pool with disk I/O.
public enum BlockingIO {
    private static let pool = ExecutionThreadPool(
        threads: 2, queueCapacity: 10_000, stackSize: 1 << 20, name: "wasm-sandbox-io")

    /// Runs `work` on an I/O thread and returns its result.
    public static func run<T: Sendable>(_ work: @escaping @Sendable () -> T) async -> T {
        await withCheckedContinuation { continuation in
            let accepted = pool.submit { continuation.resume(returning: work()) }
            // The queue is far larger than any caller's own bound; a full one runs inline.
            if !accepted { continuation.resume(returning: work()) }
        }
    }

    /// Queues `work` without waiting for it.
    public static func submit(_ work: @escaping @Sendable () -> Void) {
        if !pool.submit(work) { work() }
    }
}
