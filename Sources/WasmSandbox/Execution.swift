import Wasmtime

/// One run of a prepared module in a fresh store, on the calling thread (a sandbox thread).
struct Execution {
    let runtime: Runtime
    let module: PreparedModule
    let request: ExecutionRequest
    let limits: ExecutionLimits
    let run: RunState

    /// The largest fuel budget Wasmtime accepts; "no budget" uses it.
    static let unlimitedFuel = UInt64(Int64.max)

    func callAsFunction() -> ExecutionResult {
        if let refused = checkInitialMemory() { return refused }
        let store = Store(engine: runtime.engine, data: run)
        var instance: Instance<RunState>?
        var failure: WasmtimeError?
        do {
            instance = try instantiate(in: store)
            switch request.input {
            case .python(let source):
                try LanguageEngine.python.runProgram(
                    Array(source.utf8), arguments: request.arguments, in: instance!, control: run.control)
            case .javascript(let source):
                try LanguageEngine.javascript.runProgram(
                    Array(source.utf8), arguments: request.arguments, in: instance!, control: run.control)
            case .wasm, .wat:
                try instance!.call("_start")
            }
        } catch {
            failure = error
        }
        return result(of: store, instance: instance, failure: failure)
    }

    /// `invalid_input` when the module's initial memory is above the limit: Wasmtime would
    /// refuse to instantiate it with a message that does not say what to change.
    func checkInitialMemory() -> ExecutionResult? {
        guard module.initialMemoryBytes > limits.memoryBytes else { return nil }
        var result = ExecutionResult(status: .invalidInput)
        let what =
            switch request.input {
            case .python: "the Python engine starts"
            case .javascript: "the JavaScript engine starts"
            case .wasm, .wat: "the module's memory starts"
            }
        result.message =
            "\(what) with \(module.initialMemoryBytes >> 20) MiB of linear memory (\(module.initialMemoryBytes) bytes), more than this run's memory limit of \(limits.memoryBytes) bytes: raise the limit"
        return result
    }

    /// Sets up the store (memory cap, fuel, deadline, WASI) and instantiates the module in it.
    func instantiate(in store: Store<RunState>) throws(WasmtimeError) -> Instance<RunState> {
        // Writable mounts need Wasmtime's fd_write for files; otherwise output goes direct.
        let writesFiles = request.workspace != nil || request.mounts.contains(where: \.writable)
        store.limit(memorySize: limits.memoryBytes)
        try arm(store)
        var wasi = WASIConfiguration()
        wasi.arguments = [request.programName] + request.arguments
        wasi.environment = request.environment.sorted { $0.key < $1.key }.map { ($0.key, $0.value) }
        wasi.stdin = request.stdin
        wasi.directories = request.mounts.map {
            PreopenedDirectory(hostPath: $0.hostPath, guestPath: $0.guestPath, writable: $0.writable)
        }
        if let workspace = request.workspace {
            wasi.directories.append(
                PreopenedDirectory(hostPath: workspace.directory.path, guestPath: workspace.guestPath, writable: true))
        }
        try store.setWASI(wasi)
        let instance = try (writesFiles ? module.fileOutput : module.directOutput).instantiate(in: store)
        if writesFiles {
            try FileWrites.attach(
                to: run, guest: instance, forwarder: try runtime.forwarder(), wasi: runtime.wasi, store: store)
        }
        return instance
    }

    /// Gives the store this call's fuel and deadline (for a session: before each call).
    func arm(_ store: Store<RunState>) throws(WasmtimeError) {
        if runtime.metersFuel { try store.setFuel(fuelBudget) }
        let control = run.control
        // Trap-free deadline handling: every tick the sandbox decides whether to go on.
        store.setEpochDeadline(ticks: 1)
        store.onEpochDeadline { [control] in
            return control.shouldStop() ? .interrupt(message: "stopped by the sandbox") : .continue(ticks: 1)
        }
    }

    private var fuelBudget: UInt64 { min(limits.fuel ?? Self.unlimitedFuel, Self.unlimitedFuel) }

    /// What the run produced and how it ended.
    func result(of store: Store<RunState>, instance: Instance<RunState>?, failure: WasmtimeError?) -> ExecutionResult {
        var result = ExecutionResult(status: .ok)
        result.files = request.workspace?.files()
        (result.stdout, result.stdoutTruncated) = run.stdout.contents
        (result.stderr, result.stderrTruncated) = run.stderr.contents
        result.memoryPeakBytes = instance?.memorySize() ?? 0
        if runtime.metersFuel { result.fuelConsumed = fuelBudget - ((try? store.fuel()) ?? fuelBudget) }
        classify(&result, failure: failure, instance: instance)
        return result
    }

    /// Wasmtime refuses growth past the limit without telling the host, so a failure after
    /// the memory came within one doubling of the limit is blamed on the limit.
    private func nearMemoryLimit(_ result: ExecutionResult) -> Bool {
        result.memoryPeakBytes * 2 > limits.memoryBytes
    }

    /// Whether the guest's last words are about memory. Wasmtime does not report a refused
    /// `memory.grow`, so an exit is blamed on the limit only with the guest's own say-so.
    private func saysOutOfMemory(_ result: ExecutionResult) -> Bool {
        let tail = String(decoding: result.stderr.suffix(4096), as: UTF8.self).lowercased()
        return tail.contains("memory")
    }

    private func memoryLimitMessage(_ result: ExecutionResult, then outcome: String) -> String {
        "linear memory reached \(result.memoryPeakBytes) bytes of its \(limits.memoryBytes)-byte limit, then the run \(outcome)"
    }

    private static let outputCapMessage = "the run wrote more than its output cap"

    /// How the run ended when the sandbox stopped it, if it did.
    private func stopOutcome() -> (ExecutionResult.Status, String)? {
        switch run.control.stopReason {
        case .timeout: (.timedOut, "the run exceeded its \(limits.timeout) timeout")
        case .cancelled: (.cancelled, "the run was cancelled")
        case .outputLimit: (.outputLimit, Self.outputCapMessage)
        case .none: nil
        }
    }

    /// Turns how the run ended into a status, the sandbox's own stops first.
    private func classify(_ result: inout ExecutionResult, failure: WasmtimeError?, instance: Instance<RunState>?) {
        classifyOutcome(&result, failure: failure, instance: instance)
        if run.files.exhausted && result.status != .ok && result.status != .timedOut && result.status != .cancelled {
            // The guest failed after a write or create was refused for want of quota.
            let original = result.message.map { " (\($0))" } ?? result.exitCode.map { " (exit code \($0))" } ?? ""
            result.status = .outputLimit
            result.message =
                "the run reached its file quota (\(limits.workspaceBytes) bytes written, \(limits.workspaceEntries) entries created); the call past it failed with ENOSPC\(original)"
        }
    }

    private func classifyOutcome(
        _ result: inout ExecutionResult, failure: WasmtimeError?, instance: Instance<RunState>?
    ) {
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
        guard let failure else {
            result.exitCode = 0
            return
        }
        switch failure {
        case .exit(let code, _):
            result.exitCode = code
            result.status = code == 0 ? .ok : .exited
            if code != 0 && nearMemoryLimit(result) && saysOutOfMemory(result) {
                // A runtime that survives a failed allocation (QuickJS's "out of memory",
                // Python's MemoryError) exits instead of trapping, and says so.
                result.status = .memoryLimit
                result.message = memoryLimitMessage(result, then: "exited with code \(code)")
            }
        case .error(let message) where instance == nil:
            // Linking was checked up front, so this is the module asking for more than the
            // limits allow (such as a larger initial memory).
            result.status = .invalidInput
            result.message = "cannot instantiate the module: \(message)"
        case .error(let message) where nearMemoryLimit(result):
            // Such as an engine that cannot allocate the buffer for a program's source.
            result.status = .memoryLimit
            result.message = memoryLimitMessage(result, then: "failed: \(message)")
        case .error(let message):
            result.status = .trapped
            result.message = message
        case .trap(let code, let message):
            result.trap = code?.name
            result.message = message
            if code == .outOfFuel {
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
