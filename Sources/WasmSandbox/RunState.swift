/// Everything of one run that host functions reach through the store: how to stop it and
/// where its output goes.
final class RunState: Sendable {
    let control: RunControl
    let stdout: CappedOutput
    let stderr: CappedOutput

    init(limits: ExecutionLimits) {
        control = RunControl(timeout: limits.timeout)
        stdout = CappedOutput(cap: limits.stdoutBytes, control: control)
        stderr = CappedOutput(cap: limits.stderrBytes, control: control)
    }
}
