import Synchronization

/// Everything of one run that host functions reach through the store: how to stop it and
/// where its output goes, what it may still write to files.
///
/// A session's store lives across calls, so the parts that belong to one call (its control,
/// output and stdin) are replaced by ``startCall(limits:stdin:progress:)`` between calls. That happens
/// only while no guest code runs on the store, and the hand-over of the store to the thread
/// that runs the next call orders it before any host call reads them.
package final class RunState: @unchecked Sendable {
    package private(set) var control: RunControl
    package private(set) var stdout: CappedOutput
    package private(set) var stderr: CappedOutput
    /// The current session call's stdin, served by the sandbox's `fd_read`; `nil` when stdin
    /// is the WASI context's own (stateless runs).
    package private(set) var stdin: StdinBytes?
    package let files: FileQuota
    /// Where a session's engine reports the value of a call's final expression; `nil` for
    /// stateless runs, which report none.
    package let value: ValueSlot?

    package init(limits: ExecutionLimits, reportsValues: Bool = false, progress: ExecutionProgress? = nil) {
        files = FileQuota(bytes: limits.workspaceBytes, entries: limits.workspaceEntries)
        control = RunControl(timeout: limits.timeout)
        stdout = CappedOutput(cap: limits.stdoutBytes, control: control, progress: progress)
        stderr = CappedOutput(cap: limits.stderrBytes, control: control, progress: progress, isStderr: true)
        value = reportsValues ? ValueSlot(cap: limits.stdoutBytes) : nil
    }

    /// Gives the next call of a session its own deadline, output and stdin.
    package func startCall(limits: ExecutionLimits, stdin bytes: [UInt8], progress: ExecutionProgress? = nil) {
        control = RunControl(timeout: limits.timeout)
        stdout = CappedOutput(cap: limits.stdoutBytes, control: control, progress: progress)
        stderr = CappedOutput(cap: limits.stderrBytes, control: control, progress: progress, isStderr: true)
        stdin = StdinBytes(bytes)
        value?.reset(cap: limits.stdoutBytes)
    }
}

/// One session call's stdin, read by the guest from start to end.
package final class StdinBytes: @unchecked Sendable {
    package let bytes: [UInt8]
    /// How far the guest has read; touched only on the run's thread, inside host calls.
    package var offset = 0

    package init(_ bytes: [UInt8]) { self.bytes = bytes }
}

/// The text of a call's final expression, as the engine sent it through `host.call`, kept up
/// to a cap (the call's stdout cap).
package final class ValueSlot: Sendable {
    private struct State {
        var text: [UInt8]? = nil
        var truncated = false
        var cap: Int
    }

    private let state: Mutex<State>

    package init(cap: Int) { state = Mutex(State(cap: max(cap, 0))) }

    /// The most bytes of a value the host reads from the guest.
    package var cap: Int { state.withLock { $0.cap } }

    package func reset(cap: Int) { state.withLock { $0 = State(cap: max(cap, 0)) } }

    package func set(_ text: [UInt8], truncated: Bool) {
        state.withLock {
            $0.text = text
            $0.truncated = truncated
        }
    }

    package var contents: (text: [UInt8]?, truncated: Bool) { state.withLock { ($0.text, $0.truncated) } }
}
