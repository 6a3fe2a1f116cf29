import Foundation

/// Waits, polling, until `condition` holds or `seconds` pass (a generous bound: the machine
/// may be loaded). Returns whether it held: use as `#expect(try await eventually { ... })`.
func eventually(within seconds: Int = 30, _ condition: () async -> Bool) async throws -> Bool {
    let deadline = ContinuousClock.now + .seconds(seconds)
    while ContinuousClock.now < deadline {
        if await condition() { return true }
        try await Task.sleep(for: .milliseconds(50))
    }
    return await condition()
}

/// Runs blocking work (pipe reads and writes) on a thread of its own and returns its result,
/// so that it never holds one of the few threads of Swift's cooperative pool that every other
/// test's tasks run on.
func onThread<T: Sendable>(_ body: @escaping @Sendable () throws -> T) async throws -> T {
    try await withCheckedThrowingContinuation { continuation in
        Thread { continuation.resume(with: Result { try body() }) }.start()
    }
}
