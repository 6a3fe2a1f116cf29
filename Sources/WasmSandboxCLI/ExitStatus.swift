import WasmSandbox

/// The CLI's exit status for a run that the sandbox, not the guest, ended. Documented in the
/// README; chosen after coreutils `timeout` (124) and the signals a process limit would raise.
enum ExitStatus {
    static func code(for result: ExecutionResult) -> Int32 {
        switch result.status {
        case .ok: 0
        case .exited: result.exitCode ?? 1
        case .timedOut: 124
        case .invalidInput: 65  // EX_DATAERR
        case .internalError: 70  // EX_SOFTWARE
        case .busy: 75  // EX_TEMPFAIL
        case .cancelled: 130  // as after SIGINT
        case .trapped: 134  // as after SIGABRT
        case .memoryLimit: 137  // as after an out-of-memory kill
        case .outOfFuel: 152  // as after SIGXCPU, CPU limit exceeded
        case .outputLimit: 153  // as after SIGXFSZ, file size limit exceeded
        }
    }
}
