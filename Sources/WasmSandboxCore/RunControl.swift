import Foundation
import Synchronization

/// Why the sandbox stopped a run from outside the guest.
package enum StopReason: UInt8, Sendable {
    case none = 0
    case timeout
    case outputLimit
    case cancelled
}

/// The shared state of one running execution: its deadline and whether someone asked it to
/// stop. Read by the epoch callback and by host calls on the run's thread, written by output
/// sinks on Wasmtime's threads and by cancelling callers.
package final class RunControl: Sendable {
    /// When the run must end, on ``MonotonicClock``.
    package let deadline: UInt64
    /// When the run's WASI context was made: the zero of the guest's monotonic clock.
    package let started: UInt64
    private let reason = Atomic<UInt8>(StopReason.none.rawValue)
    private let wakeUp = NSCondition()

    package init(timeout: Duration) {
        started = MonotonicClock.now()
        let (end, overflow) = started.addingReportingOverflow(timeout.nanoseconds)
        deadline = overflow ? .max : end
    }

    /// The first reason anyone gave for stopping, or `.none`.
    package var stopReason: StopReason { StopReason(rawValue: reason.load(ordering: .acquiring)) ?? .none }

    /// Asks the run to stop; the first reason wins. Wakes a guest sleeping in a host call.
    package func stop(_ why: StopReason) {
        _ = reason.compareExchange(
            expected: StopReason.none.rawValue, desired: why.rawValue, ordering: .acquiringAndReleasing)
        wakeUp.lock()
        wakeUp.broadcast()
        wakeUp.unlock()
    }

    /// Whether the run must stop now; records a timeout when the deadline has passed.
    package func shouldStop() -> Bool {
        if stopReason != .none { return true }
        if MonotonicClock.now() >= deadline {
            stop(.timeout)
            return true
        }
        return false
    }

    /// Sleeps until `wake` (monotonic nanoseconds), the deadline or a stop request, whichever
    /// comes first. Returns false when the run must stop.
    package func sleep(until wake: UInt64) -> Bool {
        let target = min(wake, deadline)
        wakeUp.lock()
        // stop() takes the same lock to wake us, so only read the reason while holding it.
        while stopReason == .none {
            let now = MonotonicClock.now()
            if now >= target { break }
            _ = wakeUp.wait(until: Date(timeIntervalSinceNow: Double(target - now) / 1e9))
        }
        wakeUp.unlock()
        return !shouldStop()
    }
}
