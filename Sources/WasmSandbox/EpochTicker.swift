import Foundation
import Wasmtime

/// Advances the engine's epoch at a fixed interval while any run is active, so running Wasm
/// reaches its epoch deadline and the sandbox can check timeouts and stop requests. Idle
/// when nothing runs.
final class EpochTicker: @unchecked Sendable {
    private let engine: Engine
    private let interval: UInt32
    private let condition = NSCondition()
    private var activeRuns = 0
    private var stopping = false

    init(engine: Engine, interval: Duration) {
        self.engine = engine
        self.interval = UInt32(clamping: max(interval.nanoseconds / 1000, 100))
        let thread = Thread { self.tick() }
        thread.name = "wasm-sandbox-epoch"
        thread.start()
    }

    /// Marks a run as active for the duration of `body`.
    func whileActive<R>(_ body: () throws -> R) rethrows -> R {
        condition.lock()
        activeRuns += 1
        if activeRuns == 1 { condition.signal() }
        condition.unlock()
        defer {
            condition.lock()
            activeRuns -= 1
            condition.unlock()
        }
        return try body()
    }

    /// Ends the ticking thread.
    func shutdown() {
        condition.lock()
        stopping = true
        condition.signal()
        condition.unlock()
    }

    private func tick() {
        while true {
            condition.lock()
            while activeRuns == 0 && !stopping { condition.wait() }
            let done = stopping && activeRuns == 0
            condition.unlock()
            if done { return }
            usleep(interval)
            engine.incrementEpoch()
        }
    }
}
