import Foundation
import Wasmtime

/// Advances the engines' epoch at a fixed interval while runs are active, so running Wasm
/// reaches its epoch deadline and the sandbox can check timeouts and stop requests.
///
/// After the last run ends it keeps ticking for a short grace period before parking, so
/// back-to-back runs do not each pay for waking the thread.
final class EpochTicker: @unchecked Sendable {
    /// Guarded by `condition`: engines join as the sandbox builds them.
    private var engines: [Engine] = []
    private let interval: UInt32
    private let condition = NSCondition()
    private var activeRuns = 0
    private var parked = false
    private var stopping = false
    private static let idleTicksBeforeParking = 100

    init(interval: Duration) {
        self.interval = UInt32(clamping: max(interval.nanoseconds / 1000, 100))
        let thread = Thread { self.tick() }
        thread.name = "wasm-sandbox-epoch"
        thread.start()
    }

    /// Marks a run as active for the duration of `body`.
    func whileActive<R>(_ body: () throws -> R) rethrows -> R {
        condition.lock()
        activeRuns += 1
        if parked { condition.signal() }
        condition.unlock()
        defer {
            condition.lock()
            activeRuns -= 1
            condition.unlock()
        }
        return try body()
    }

    /// Starts advancing `engine`'s epoch too.
    func add(_ engine: Engine) {
        condition.lock()
        engines.append(engine)
        condition.unlock()
    }

    /// Ends the ticking thread.
    func shutdown() {
        condition.lock()
        stopping = true
        condition.signal()
        condition.unlock()
    }

    private func tick() {
        var idleTicks = 0
        while true {
            condition.lock()
            idleTicks = activeRuns > 0 ? 0 : idleTicks + 1
            while activeRuns == 0 && !stopping && idleTicks > Self.idleTicksBeforeParking {
                parked = true
                condition.wait()
                parked = false
                if activeRuns > 0 { idleTicks = 0 }
            }
            let done = stopping
            let current = engines
            condition.unlock()
            if done { return }
            usleep(interval)
            for engine in current { engine.incrementEpoch() }
        }
    }
}
