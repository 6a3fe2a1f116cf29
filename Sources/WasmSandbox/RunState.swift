/// Everything of one run that host functions reach through the store: how to stop it and
/// where its output goes, what it may still write to files.
final class RunState: Sendable {
    let control: RunControl
    let stdout: CappedOutput
    let stderr: CappedOutput
    let files: FileQuota

    init(limits: ExecutionLimits) {
        files = FileQuota(bytes: limits.workspaceBytes, entries: limits.workspaceEntries)
        control = RunControl(timeout: limits.timeout)
        stdout = CappedOutput(cap: limits.stdoutBytes, control: control)
        stderr = CappedOutput(cap: limits.stderrBytes, control: control)
    }
}
