import Foundation

/// Threads the sandbox owns for running Wasm, with a bounded wait queue.
///
/// Wasm runs block their thread for as long as the guest computes, so they never run on
/// Swift's cooperative pool. Each thread gets a stack larger than the Wasm stack limit.
package final class ExecutionThreadPool: @unchecked Sendable {
    package typealias Job = @Sendable () -> Void

    private let condition = NSCondition()
    private var queue: [Job] = []
    private var head = 0
    private var running = 0
    private let queueCapacity: Int
    private let threads: Int
    private var stopping = false

    package init(threads: Int, queueCapacity: Int, stackSize: Int, name: String = "wasm-sandbox") {
        self.queueCapacity = queueCapacity
        self.threads = threads
        for index in 0..<threads {
            let thread = Thread { self.work() }
            thread.name = "\(name)-\(index)"
            thread.stackSize = stackSize
            thread.start()
        }
    }

    /// Jobs waiting for a thread.
    package var queued: Int {
        condition.lock()
        defer { condition.unlock() }
        return queue.count - head
    }

    /// Jobs running now.
    package var active: Int {
        condition.lock()
        defer { condition.unlock() }
        return running
    }

    /// Queues a job; returns false, without queuing it, when every thread is taken and the
    /// queue is full.
    ///
    /// Jobs are counted whether a thread has picked them up yet or not: a job handed to an
    /// idle thread that has not woken up yet must not take the place of a waiting one.
    package func submit(_ job: @escaping Job) -> Bool {
        condition.lock()
        defer { condition.unlock() }
        guard !stopping, running + queue.count - head < threads + queueCapacity else { return false }
        queue.append(job)
        condition.signal()
        return true
    }

    /// Lets the threads finish the queued jobs and exit.
    package func shutdown() {
        condition.lock()
        stopping = true
        condition.broadcast()
        condition.unlock()
    }

    private func work() {
        while true {
            condition.lock()
            while head == queue.count && !stopping { condition.wait() }
            if head == queue.count {
                condition.unlock()
                return
            }
            let job = queue[head]
            head += 1
            if head == queue.count || head > 1024 {
                queue.removeFirst(head)
                head = 0
            }
            running += 1
            condition.unlock()
            job()
            condition.lock()
            running -= 1
            condition.unlock()
        }
    }
}

extension ExecutionThreadPool {
    /// Runs `work` on one of the pool's threads and waits for it without blocking the
    /// caller's thread; `refused()` when the threads and the queue are full. The wait is
    /// counted as queue depth in `metrics`.
    package func run<T: Sendable>(
        _ work: @escaping @Sendable () -> T, metrics: SandboxMetrics, refused: @Sendable () -> T
    ) async -> T {
        await withCheckedContinuation { continuation in
            // Counted before the submission, since a thread may take the job before it returns.
            metrics.enqueued()
            let accepted = submit {
                metrics.dequeued()
                continuation.resume(returning: work())
            }
            if !accepted {
                metrics.dequeued()
                continuation.resume(returning: refused())
            }
        }
    }
}
