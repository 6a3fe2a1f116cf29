import Synchronization

/// Collects what the guest writes to one stream, up to a cap. Past the cap it keeps nothing
/// more and asks the run to stop.
package final class CappedOutput: Sendable {
    private struct State {
        var bytes: [UInt8] = []
        var truncated = false
    }

    private let cap: Int
    private let control: RunControl
    private let state = Mutex(State())
    private let progress: ExecutionProgress?
    private let isStderr: Bool

    package init(cap: Int, control: RunControl, progress: ExecutionProgress? = nil, isStderr: Bool = false) {
        self.cap = cap
        self.control = control
        self.progress = progress
        self.isStderr = isStderr
    }

    package func write(_ bytes: UnsafeRawBufferPointer) {
        progress?.wrote(bytes.count, toStderr: isStderr)
        let overflowed = state.withLock { state -> Bool in
            let room = cap - state.bytes.count
            if bytes.count <= room {
                state.bytes.append(contentsOf: bytes)
                return false
            }
            state.bytes.append(contentsOf: bytes.prefix(max(room, 0)))
            state.truncated = true
            return true
        }
        if overflowed { control.stop(.outputLimit) }
    }

    /// What was kept, and whether anything was dropped.
    package var contents: (bytes: [UInt8], truncated: Bool) {
        state.withLock { ($0.bytes, $0.truncated) }
    }
}
