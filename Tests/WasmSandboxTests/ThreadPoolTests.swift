import Foundation
import Testing

@testable import WasmSandbox

@Suite("Execution threads and their queue")
struct ThreadPoolTests {
    /// Jobs that each block until released, so that the pool's state is known, not timed.
    final class Gate: @unchecked Sendable {
        let started = DispatchSemaphore(value: 0)
        let release = DispatchSemaphore(value: 0)
        func job() {
            started.signal()
            release.wait()
        }
    }

    @Test func anIdleThreadTakesAJobEvenWithoutAQueue() {
        let pool = ExecutionThreadPool(threads: 1, queueCapacity: 0, stackSize: 1 << 20)
        defer { pool.shutdown() }
        let gate = Gate()
        #expect(pool.submit { gate.job() })
        gate.started.wait()
        #expect(!pool.submit {})
        gate.release.signal()
    }

    /// Submitted back to back, before the thread wakes for the first: one runs, one waits,
    /// and only a third is refused.
    @Test func jobsSubmittedAtOnceFillThreadsThenQueue() {
        let pool = ExecutionThreadPool(threads: 1, queueCapacity: 1, stackSize: 1 << 20)
        defer { pool.shutdown() }
        let gate = Gate()
        #expect(pool.submit { gate.job() })
        #expect(pool.submit { gate.job() })
        #expect(!pool.submit {})
        gate.started.wait()
        #expect(pool.active == 1)
        #expect(pool.queued == 1)
        #expect(!pool.submit {})
        gate.release.signal()
        gate.started.wait()
        gate.release.signal()
    }
}
