import ArgumentParser
import WasmSandbox
import WasmSandboxMCP

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

/// Rejects a numeric flag outside its range with a message naming the flag (exit status 64).
public func checkBounds(_ value: Int?, _ flag: String, _ range: ClosedRange<Int>) throws {
    guard let value else { return }
    do { try LimitBounds.check(value, name: flag, in: range) } catch { throw ValidationError(error.description) }
}
