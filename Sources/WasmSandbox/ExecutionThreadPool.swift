import Foundation

/// Threads the sandbox owns for running Wasm, with a bounded wait queue.
///
/// Wasm runs block their thread for as long as the guest computes, so they never run on
/// Swift's cooperative pool. Each thread gets a stack larger than the Wasm stack limit.
final class ExecutionThreadPool: @unchecked Sendable {
    typealias Job = @Sendable () -> Void

    private let condition = NSCondition()
    private var queue: [Job] = []
    private var head = 0
    private var running = 0
    private let queueCapacity: Int
    private let threads: Int
    private var stopping = false

    init(threads: Int, queueCapacity: Int, stackSize: Int, name: String = "wasm-sandbox") {
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
    var queued: Int {
        condition.lock()
        defer { condition.unlock() }
        return queue.count - head
    }

    /// Jobs running now.
    var active: Int {
        condition.lock()
        defer { condition.unlock() }
        return running
    }

    /// Queues a job; returns false, without queuing it, when every thread is taken and the
    /// queue is full.
    ///
    /// Jobs are counted whether a thread has picked them up yet or not: a job handed to an
    /// idle thread that has not woken up yet must not take the place of a waiting one.
    func submit(_ job: @escaping Job) -> Bool {
        condition.lock()
        defer { condition.unlock() }
        guard !stopping, running + queue.count - head < threads + queueCapacity else { return false }
        queue.append(job)
        condition.signal()
        return true
    }

    /// Lets the threads finish the queued jobs and exit.
    func shutdown() {
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
