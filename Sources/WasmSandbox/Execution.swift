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
        var store = Store(engine: runtime.engine, data: run)
        var instance: Instance<RunState>?
        var failure: WasmtimeError?
        do {
            instance = try instantiateWhenASlotIsFree(in: &store)
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
        .initialMemoryRefused(module.initialMemoryBytes, limit: limits.memoryBytes, input: request.input)
    }

    /// ``instantiate(in:)``, waiting (up to the run's deadline) while the instance pool is
    /// full, in a fresh store each time (a failed instantiation leaves what it made counted in
    /// its store: retried in one store, a Python run hit the store's bound of 8 tables). The
    /// pool is sized for every run thread, every `executeBlocking` caller and every session,
    /// yet fifty concurrent Python runs and fifty sessions beside the other suites found it
    /// full for a moment (Wasmtime: "maximum concurrent limit … reached") and failed before
    /// this wait; slots free as other runs end, so a run waits for one instead.
    func instantiateWhenASlotIsFree(in store: inout Store<RunState>) throws(WasmtimeError) -> Instance<RunState> {
        while true {
            do {
                return try instantiate(in: store)
            } catch .error(let message) where message.contains("maximum concurrent limit") {
                guard run.control.sleep(until: MonotonicClock.now() + 1_000_000) else {
                    throw .error(
                        message: "the sandbox's instance pool stayed full until the run's deadline: \(message)")
                }
                store = Store(engine: runtime.engine, data: run)
            }
        }
    }

    /// Sets up the store (memory cap, fuel, deadline, WASI) and instantiates the module in it.
    func instantiate(in store: Store<RunState>) throws(WasmtimeError) -> Instance<RunState> {
        // Mounts need the sandbox's file layer (the quota for writable ones, the refusal of
        // FIFOs for all) and so Wasmtime's fd_write for files; otherwise output goes direct.
        let usesFileLayer = request.workspace != nil || !request.mounts.isEmpty
        store.limit(
            memorySize: limits.memoryBytes, tableElements: TableBounds.maxElements, tables: TableBounds.maxTables)
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
        let instance = try (usesFileLayer ? module.fileOutput : module.directOutput).instantiate(in: store)
        if usesFileLayer {
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

    /// Turns how the run ended into a status. Wasmtime refuses growth past the limit
    /// without telling the host, so the memory limit is judged by how near the peak came.
    private func classify(_ result: inout ExecutionResult, failure: WasmtimeError?, instance: Instance<RunState>?) {
        let ending: GuestEnding =
            switch failure {
            case nil: .returned
            case .exit(let code, _)?: .exited(code)
            case .error(let message)? where instance == nil: .notInstantiated(message)
            case .error(let message)?: .failed(message)
            case .trap(let code, let message)?: .trapped(name: code?.name, message: message)
            }
        RunClassification(limits: limits, state: run, memoryRefused: nil).classify(&result, ending: ending)
    }
}
