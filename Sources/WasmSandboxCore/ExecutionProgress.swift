import Synchronization

/// How far a run has got while it runs: the bytes of output it has produced so far, readable
/// from any thread. A server reports it to a client waiting on a long run.
public final class ExecutionProgress: Sendable {
    private let stdout = Atomic(0)
    private let stderr = Atomic(0)

    public init() {}

    /// Bytes written to stdout so far, including any past the output cap.
    public var stdoutBytes: Int { stdout.load(ordering: .relaxed) }
    /// Bytes written to stderr so far, including any past the output cap.
    public var stderrBytes: Int { stderr.load(ordering: .relaxed) }

    package func wrote(_ count: Int, toStderr: Bool) {
        if toStderr {
            stderr.add(count, ordering: .relaxed)
        } else {
            stdout.add(count, ordering: .relaxed)
        }
    }
}
