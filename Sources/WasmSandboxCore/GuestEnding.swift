/// How a guest's run ended, in terms every backend can state, and the status that follows.
package enum GuestEnding: Sendable {
    /// The entry point returned.
    case returned
    /// The guest exited with a status (WASI `proc_exit`, or a language engine's turn).
    case exited(Int32)
    /// A trap: its name as ``ExecutionResult/trap`` reports it (nil when unknown) and message.
    case trapped(name: String?, message: String)
    /// The module could not be instantiated within the limits.
    case notInstantiated(String)
    /// Any other failure of the run (a host function's error, an engine's refusal).
    case failed(String)
}

/// Turns what a run produced and how it ended into its status and message.
package struct RunClassification {
    package let limits: ExecutionLimits
    package let state: RunState
    /// Whether the engine refused a memory growth at the limit; nil when the engine does not
    /// say (Wasmtime), which leaves the status to the heuristics below.
    package let memoryRefused: Bool?

    package init(limits: ExecutionLimits, state: RunState, memoryRefused: Bool?) {
        self.limits = limits
        self.state = state
        self.memoryRefused = memoryRefused
    }

    package static let outputCapMessage = "the run wrote more than its output cap"

    /// The status and message for `ending`, the sandbox's own stops first.
    package func classify(_ result: inout ExecutionResult, ending: GuestEnding) {
        classifyOutcome(&result, ending: ending)
        if state.files.exhausted && result.status != .ok && result.status != .timedOut && result.status != .cancelled {
            // The guest failed after a write or create was refused for want of quota.
            let original = result.message.map { " (\($0))" } ?? result.exitCode.map { " (exit code \($0))" } ?? ""
            result.status = .outputLimit
            result.message =
                "the run reached its file quota (\(limits.workspaceBytes) bytes written, \(limits.workspaceEntries) entries created); the call past it failed with ENOSPC\(original)"
        }
    }

    /// How the run ended when the sandbox stopped it, if it did.
    package func stopOutcome() -> (ExecutionResult.Status, String)? {
        switch state.control.stopReason {
        case .timeout: (.timedOut, "the run exceeded its \(limits.timeout) timeout")
        case .cancelled: (.cancelled, "the run was cancelled")
        case .outputLimit: (.outputLimit, Self.outputCapMessage)
        case .none: nil
        }
    }

    /// Whether a failure is blamed on the memory limit: the engine says a growth was
    /// refused, or (when it cannot say) the memory came within one doubling of the limit.
    private func nearMemoryLimit(_ result: ExecutionResult) -> Bool {
        memoryRefused ?? (result.memoryPeakBytes * 2 > limits.memoryBytes)
    }

    /// Whether the guest's last words are about memory. A refused `memory.grow` is not
    /// reported by every engine, so an exit is blamed on the limit only with the guest's own
    /// say-so.
    private func saysOutOfMemory(_ result: ExecutionResult) -> Bool {
        let tail = String(decoding: result.stderr.suffix(4096), as: UTF8.self).lowercased()
        return tail.contains("memory")
    }

    private func memoryLimitMessage(_ result: ExecutionResult, then outcome: String) -> String {
        "linear memory reached \(result.memoryPeakBytes) bytes of its \(limits.memoryBytes)-byte limit, then the run \(outcome)"
    }

    private func classifyOutcome(_ result: inout ExecutionResult, ending: GuestEnding) {
        if let (status, message) = stopOutcome() {
            result.status = status
            result.message = message
            return
        }
        if result.stdoutTruncated || result.stderrTruncated {
            result.status = .outputLimit
            result.message = Self.outputCapMessage
            return
        }
        switch ending {
        case .returned:
            result.exitCode = 0
        case .exited(let code):
            result.exitCode = code
            result.status = code == 0 ? .ok : .exited
            if code != 0 && nearMemoryLimit(result) && saysOutOfMemory(result) {
                // A runtime that survives a failed allocation (QuickJS's "out of memory",
                // Python's MemoryError) exits instead of trapping, and says so.
                result.status = .memoryLimit
                result.message = memoryLimitMessage(result, then: "exited with code \(code)")
            }
        case .notInstantiated(let message):
            // Linking was checked up front, so this is the module asking for more than the
            // limits allow (such as a larger initial memory).
            result.status = .invalidInput
            result.message = "cannot instantiate the module: \(message)"
        case .failed(let message) where nearMemoryLimit(result):
            // Such as an engine that cannot allocate the buffer for a program's source.
            result.status = .memoryLimit
            result.message = memoryLimitMessage(result, then: "failed: \(message)")
        case .failed(let message):
            result.status = .trapped
            result.message = message
        case .trapped(let name, let message):
            result.trap = name
            result.message = message
            if name == "out_of_fuel" {
                result.status = .outOfFuel
            } else if nearMemoryLimit(result) {
                // Only a trap can follow a refused allocation (an allocator's abort is
                // `unreachable`); a host function's error is its own story.
                result.status = .memoryLimit
                result.message = memoryLimitMessage(result, then: "failed: \(message)")
            } else {
                result.status = .trapped
            }
        }
    }
}

extension ExecutionResult {
    /// The result of a request the sandbox could not carry out.
    package init(failure error: SandboxError, status: Status? = nil) {
        let kind: Status =
            switch error.kind {
            case .invalidInput: .invalidInput
            case .internalError: .internalError
            case .busy: .busy
            }
        self.init(status: status ?? kind, message: error.message)
    }

    /// `invalid_input` when a module's initial memory is above the run's limit, saying what
    /// to change (an engine's own refusal does not).
    package static func initialMemoryRefused(_ bytes: Int, limit: Int, input: ExecutionInput) -> ExecutionResult? {
        guard bytes > limit else { return nil }
        let what =
            switch input {
            case .python: "the Python engine starts"
            case .javascript: "the JavaScript engine starts"
            case .wasm, .wat: "the module's memory starts"
            }
        return ExecutionResult(
            status: .invalidInput,
            message:
                "\(what) with \(bytes >> 20) MiB of linear memory (\(bytes) bytes), more than this run's memory limit of \(limit) bytes: raise the limit"
        )
    }
}
