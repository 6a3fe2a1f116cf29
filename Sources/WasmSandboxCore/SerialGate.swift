import Synchronization

/// An async lock that lets its holders in one at a time, in the order they arrived: the
/// calls on one session run in the order they were made, and none blocks a thread waiting.
package final class SerialGate: Sendable {
    package init() {}

    private struct State {
        var held = false
        var waiting: [CheckedContinuation<Void, Never>] = []
    }

    private let state = Mutex(State())

    /// Waits for the gate; the caller must ``leave()`` it.
    package func enter() async {
        await withCheckedContinuation { continuation in
            let admitted = state.withLock { state -> Bool in
                guard state.held else {
                    state.held = true
                    return true
                }
                state.waiting.append(continuation)
                return false
            }
            if admitted { continuation.resume() }
        }
    }

    /// Whether anyone holds the gate or waits for it.
    package var isBusy: Bool { state.withLock { $0.held } }

    /// Hands the gate to the longest waiter, or opens it.
    package func leave() {
        let next = state.withLock { state -> CheckedContinuation<Void, Never>? in
            guard !state.waiting.isEmpty else {
                state.held = false
                return nil
            }
            return state.waiting.removeFirst()
        }
        next?.resume()
    }
}
