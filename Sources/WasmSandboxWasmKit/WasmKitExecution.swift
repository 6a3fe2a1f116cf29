import Foundation
import WASI
@_spi(Fuzzing) import WasmKit
import WasmKitWASI
import WasmSandboxCore

/// Thrown out of a host call to end a run the sandbox stopped (deadline, cancellation,
/// output cap): WasmKit passes a host function's error out of the guest's call unchanged.
struct RunStopped: Error {}

/// One run of a prepared program in a fresh store, on the calling thread.
struct WasmKitExecution {
    let backend: WasmKitBackend
    let program: WasmKitProgram
    let request: ExecutionRequest
    let limits: ExecutionLimits
    let state: RunState
    /// Called with what a first run learned of its module: nil once every function was
    /// translated (so it is valid), or the refusal of a module that can never be instantiated
    /// whatever the limits (translation, an import or a segment), so that the next run does
    /// not translate it again only to fail the same way.
    var validated: (ExecutionResult?) -> Void = { _ in }

    func callAsFunction() throws(SandboxError) -> ExecutionResult {
        let bridge: WASIBridgeToHost
        do {
            bridge = try GuardedWASI.makeBridge(
                arguments: [programName] + request.arguments,
                environment: request.environment,
                preopens: preopens.map { ($0.guestPath, $0.hostPath) })
        } catch {
            // Such as a mount whose host directory is missing: the request's to mend.
            throw SandboxError("cannot instantiate the module: cannot open the mounts: \(error)")
        }
        defer { try? bridge.close() }
        let budget = fuelBudget
        if !program.validated {
            // The eager engine translates, and so validates, every function at instantiation,
            // but only after running the module's start function: a copy without it goes
            // first, in a store of its own, so that no code of an invalid module runs.
            var startless = program.module
            startless.dropStartFunction()
            let (store, cap, outcome) = instantiate(startless, engine: backend.eagerEngine, bridge: bridge)
            if case .failure(let error) = outcome {
                let result = instantiationFailed(error, store: store, cap: cap, budget: budget)
                // Nothing ran (no start function) and no limit took part: it fails alike for all.
                if result.status == .invalidInput, cap.refusedSize == nil, !cap.refusedTable { validated(result) }
                return result
            }
            validated(nil)
        }
        let (store, cap, outcome) = instantiate(program.module, engine: backend.lazyEngine, bridge: bridge)
        let instance: Instance
        switch outcome {
        case .success(let made): instance = made
        case .failure(let error): return instantiationFailed(error, store: store, cap: cap, budget: budget)
        }
        var ending = GuestEnding.returned
        do {
            switch program.kind {
            case .module:
                guard let start = instance.exports[function: "_start"] else {
                    return ExecutionResult(
                        status: .invalidInput,
                        message: "the module exports no _start function: it is not a WASI command")
                }
                _ = try start.invoke([])
            case .javascript:
                let status = try turn(Array(javascriptSource.utf8), in: instance)
                if status != 0 { ending = .exited(status) }
            }
        } catch {
            ending = self.ending(of: error, instantiated: true)
        }
        return finish(instance: instance, store: store, budget: budget, cap: cap, ending: ending)
    }

    /// A fresh store with the run's memory cap and fuel, its imports, and the module
    /// instantiated in it (or why not).
    private func instantiate(_ module: Module, engine: Engine, bridge: WASIBridgeToHost) -> (
        Store, MemoryCap, Result<Instance, any Error>
    ) {
        let store = Store(engine: engine)
        let cap = MemoryCap(bytes: limits.memoryBytes)
        store.resourceLimiter = cap
        store.fuel = Fuel(remaining: fuelBudget.units)
        var imports = Imports()
        GuardedWASI.define(
            on: &imports, store: store, bridge: bridge,
            readOnlyGuestPaths: Set(preopens.filter { !$0.writable }.map(\.guestPath)), hooks: hooks)
        // The language engines' channel to their host; stateless runs answer "no host bound".
        imports.define(
            module: "host", name: "call",
            Function(store: store, parameters: [.i32, .i32, .i32, .i32], results: [.i32]) { _, _ in
                [.i32(UInt32(bitPattern: -1))]
            })
        return (store, cap, Result { try module.instantiate(store: store, imports: imports) })
    }

    private func instantiationFailed(
        _ error: any Error, store: Store, cap: MemoryCap, budget: (units: UInt64, implicit: Bool)
    ) -> ExecutionResult {
        if let refused = cap.refusedSize,
            let result = ExecutionResult.initialMemoryRefused(refused, limit: limits.memoryBytes, input: request.input)
        {
            return result
        }
        return finish(
            instance: nil, store: store, budget: budget, cap: cap, ending: ending(of: error, instantiated: false))
    }

    private var programName: String { program.programName(for: request) }

    private var javascriptSource: String {
        if case .javascript(let source) = request.input { return source }
        return ""
    }

    private var preopens: [(guestPath: String, hostPath: String, writable: Bool)] {
        var all = request.mounts.map { ($0.guestPath, $0.hostPath, $0.writable) }
        if let workspace = request.workspace { all.append((workspace.guestPath, workspace.directory.path, true)) }
        return all
    }

    /// The fuel for this run: the caller's budget, or (for modules) the allowance for its
    /// timeout, divided for modules whose calls cost more than their fuel.
    ///
    /// The JavaScript engine checks the clock itself and gets no allowance: QuickJS burns
    /// fuel hundreds of times faster per second than a tight loop (WasmKit charges a region's
    /// instructions when it is entered, and the engine's dispatch regions are large), so an
    /// allowance would stop ordinary scripts before their deadline (measured: a 1 s
    /// `while (true) {}` stopped at 0.22 s with 64 times a module's allowance).
    private var fuelBudget: (units: UInt64, implicit: Bool) {
        if let fuel = limits.fuel { return (fuel, false) }
        guard program.kind == .module else { return (UInt64.max, false) }
        let seconds = max(limits.timeout.secondsValue, 0.001)
        let units = Double(backend.fuelPerSecond) / Double(program.fuelDivisor) * seconds
        return (units >= 1.8e19 ? UInt64.max : UInt64(units), true)
    }

    private var hooks: WASIGuardHooks {
        let state = self.state
        let control = state.control
        return WASIGuardHooks(
            checkpoint: {
                if control.shouldStop() { throw RunStopped() }
            },
            sleep: { control.sleep(until: $0) },
            started: control.started,
            now: { MonotonicClock.now() },
            wallNow: { MonotonicClock.realtime() },
            write: { bytes, toStderr in (toStderr ? state.stderr : state.stdout).write(bytes) },
            stdin: request.stdin,
            takeBytes: { state.files.take(bytes: $0) },
            giveBytes: { state.files.give(bytes: $0) },
            takeEntry: { state.files.takeEntry() },
            giveEntry: { state.files.giveEntry() })
    }

    /// One turn of the language engine's ABI: the source copied into a buffer of the
    /// guest's, then run; returns the exit status.
    private func turn(_ source: [UInt8], in instance: Instance) throws -> Int32 {
        guard let alloc = instance.exports[function: "host_alloc"], let turn = instance.exports[function: "turn"],
            let memory = instance.exports[memory: "memory"]
        else { throw EngineFault("the JavaScript engine lacks host_alloc, turn or memory") }
        guard case .i32(let pointer)? = try alloc.invoke([.i32(UInt32(source.count))]).first, pointer != 0 else {
            throw EngineFault("the engine could not allocate \(source.count) bytes for the code")
        }
        // WasmKit checks this with a precondition: out of bounds would end the process.
        guard Int(pointer) + source.count <= memory.byteCount else {
            throw EngineFault("the engine gave a buffer outside its memory")
        }
        memory.withUnsafeMutableBufferPointer(offset: UInt(pointer), count: source.count) { target in
            source.withUnsafeBytes { target.copyMemory(from: $0) }
        }
        guard case .i32(let status)? = try turn.invoke([.i32(pointer), .i32(UInt32(source.count))]).first else {
            throw EngineFault("the engine's turn returned no status")
        }
        return Int32(bitPattern: status)
    }

    private func ending(of error: any Error, instantiated: Bool) -> GuestEnding {
        switch error {
        case let exit as WASIExitCode: return .exited(Int32(bitPattern: exit.code))
        case is RunStopped: return .failed("stopped by the sandbox")
        case let trap as Trap:
            let trap = TrapDescription(trap)
            guard instantiated else { return .notInstantiated(trap.reason) }
            return .trapped(name: trap.name, message: "wasm trap: \(trap.reason)")
        case let fault as EngineFault: return .failed(fault.message)
        default:
            let text = String(String(describing: error).prefix(while: { $0 != "\n" }).prefix(2048))
            return instantiated ? .failed(text) : .notInstantiated(text)
        }
    }

    private func finish(
        instance: Instance?, store: Store, budget: (units: UInt64, implicit: Bool), cap: MemoryCap,
        ending: GuestEnding
    ) -> ExecutionResult {
        var result = ExecutionResult(status: .ok)
        result.files = request.workspace?.files()
        (result.stdout, result.stdoutTruncated) = state.stdout.contents
        (result.stderr, result.stderrTruncated) = state.stderr.contents
        result.memoryPeakBytes = instance?.exports[memory: "memory"]?.byteCount ?? 0
        let left = store.fuel?.remaining ?? budget.units
        if limits.fuel != nil { result.fuelConsumed = budget.units - min(left, budget.units) }
        RunClassification(limits: limits, state: state, memoryRefused: cap.refusedSize != nil)
            .classify(&result, ending: ending)
        if budget.implicit && result.trap == "out_of_fuel" {
            // The allowance standing in for the wall clock ran out: a timeout, said plainly.
            result.status = .timedOut
            result.trap = nil
            result.message =
                "the run used the fuel WasmKit allows for its \(limits.timeout) timeout (\(budget.units) units): WasmKit cannot interrupt a guest between host calls, so a run that computes without calling the host is stopped by fuel; pass a fuel budget to choose it"
        }
        return result
    }
}

/// A language engine that broke its ABI.
struct EngineFault: Error {
    let message: String
    init(_ message: String) { self.message = message }
}
