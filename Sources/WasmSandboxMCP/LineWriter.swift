import Dispatch
import Foundation

#if canImport(Glibc)
    import Glibc
#endif

/// Writes whole lines to a file descriptor, in the order they were handed over, on one
/// serial queue: answers never interleave, and a client that reads slowly blocks that queue,
/// never Swift's cooperative pool.
///
/// What waits to be written is bounded: past `backlogLimit` bytes, ``waitForRoom()`` blocks
/// the transport's reader, so a client that sends requests without reading the answers
/// stops being read instead of filling the server's memory.
final class LineWriter: @unchecked Sendable {
    private let output: Int32
    private let queue = DispatchQueue(label: "wasm-sandbox.stdio.write")
    private let backlogLimit: Int
    /// Guards `backlog`.
    private let condition = NSCondition()
    private var backlog = 0

    init(output: Int32, backlogLimit: Int) {
        self.output = output
        self.backlogLimit = backlogLimit
    }

    /// Queues `message` and a newline; `done` gets the write's error, if any.
    func enqueue(_ message: Data, done: (@Sendable ((any Error)?) -> Void)? = nil) {
        let count = message.count + 1
        condition.lock()
        backlog += count
        condition.unlock()
        queue.async { [self] in
            var line = message
            line.append(UInt8(ascii: "\n"))
            let failure = line.withUnsafeBytes { Self.writeAll($0, to: output) }
            condition.lock()
            backlog -= count
            condition.broadcast()
            condition.unlock()
            done?(failure)
        }
    }

    /// Waits, on the caller's thread, until the backlog is under its limit.
    func waitForRoom() {
        condition.lock()
        while backlog > backlogLimit { condition.wait() }
        condition.unlock()
    }

    /// Returns once everything queued so far is written.
    func flush() async {
        await withCheckedContinuation { (done: CheckedContinuation<Void, Never>) in queue.async { done.resume() } }
    }

    /// Writes every byte, retrying short writes and interrupted calls; the error otherwise.
    private static func writeAll(_ bytes: UnsafeRawBufferPointer, to fd: Int32) -> (any Error)? {
        var offset = 0
        while offset < bytes.count {
            let written = write(fd, bytes.baseAddress! + offset, bytes.count - offset)
            if written < 0 {
                if errno == EINTR { continue }
                return POSIXError(POSIXErrorCode(rawValue: errno) ?? .EIO)
            }
            offset += written
        }
        return nil
    }
}
