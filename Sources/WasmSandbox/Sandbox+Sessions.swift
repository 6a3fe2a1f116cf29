import Foundation
import Wasmtime

extension Sandbox {
    /// Opens a session: a JavaScript or Python engine instance that keeps its state across
    /// calls (see ``SandboxSession``).
    ///
    /// - Parameters:
    ///   - limits: The session's memory cap and file quota, and its calls' default timeout,
    ///     fuel and output caps (default: the sandbox's defaults). A session opened without
    ///     a fuel budget runs on the engine without fuel metering, and its calls cannot ask
    ///     for one.
    ///   - files: Files to place in its workspace first (relative path → bytes).
    ///   - owner: Who opens it (a client's name). At the sandbox's session caps, opening a
    ///     session closes the least recently used idle session of the owner holding the most
    ///     (sessions, then memory) when that is more than this owner holds, or else one of
    ///     this owner's, never one of an owner holding less; sessions without an owner share
    ///     one owner.
    /// - Throws: ``SandboxError``: for another language, bad limits or files, an engine that
    ///   cannot start; `busy` when the execution threads or the session caps are all taken.
    public func openSession(
        language: Language, limits: ExecutionLimits? = nil, files: [String: [UInt8]] = [:], owner: String? = nil
    ) async throws(SandboxError) -> SandboxSession {
        let engine: LanguageEngine
        let input: ExecutionInput
        switch language {
        case .javascript: (engine, input) = (.javascript, .javascript(""))
        case .python: (engine, input) = (.python, .python(""))
        case .wasm, .wat:
            throw SandboxError("sessions run javascript or python, not \(language.rawValue)")
        }
        guard backend == nil else {
            throw SandboxError(
                "code sessions need the wasmtime backend: this sandbox runs \(configuration.backend.rawValue), which keeps no instance between calls"
            )
        }
        let limits = limits ?? configuration.defaultLimits
        try configuration.check(limits)
        // One trip to an execution thread does it all, the workspace's disk work included: a
        // session should cost no more to open than a stateless run.
        let opened: Result<(LiveInstance, Workspace, SessionRegistry.Reservation), SandboxError> =
            await attemptOnPool { [self] () throws(SandboxError) in
                let runtime = try runtimes.runtime(metersFuel: limits.fuel != nil)
                var request = ExecutionRequest(input)
                request.limits = limits
                guard case .ready(let module, var guest, _) = try prepare(request, in: runtime, compiled: nil) else {
                    throw SandboxError("the \(language.rawValue) engine is not compiled", kind: .internalError)
                }
                let run = RunState(limits: limits, reportsValues: true)
                if let refused = Execution(runtime: runtime, module: module, request: guest, limits: limits, run: run)
                    .checkInitialMemory()
                {
                    throw SandboxError(refused.message ?? "")
                }
                let reservation = try sessionRegistry.reserve(memoryBytes: module.initialMemoryBytes, owner: owner)
                do throws(SandboxError) {
                    let workspace = try Workspace(files: files)
                    guest.workspace = workspace
                    let execution = Execution(
                        runtime: runtime, module: module, request: guest, limits: limits, run: run)
                    var store = Store(engine: runtime.engine, data: run)
                    let started = ticker.whileActive {
                        Result { () throws(WasmtimeError) -> Instance<RunState> in
                            let instance = try execution.instantiateWhenASlotIsFree(in: &store)
                            try engine.begin(in: instance, arguments: [], reportsValues: true)
                            return instance
                        }
                    }
                    guard case .success(let instance) = started else {
                        workspace.removeInBackground()
                        let message = if case .failure(let error) = started { error.message } else { "" }
                        throw SandboxError(
                            "cannot start the \(language.rawValue) session: \(message)", kind: .internalError)
                    }
                    return (
                        LiveInstance(store: store, instance: instance, execution: execution), workspace, reservation
                    )
                } catch {
                    sessionRegistry.release(reservation)
                    throw error
                }
            }
        switch opened {
        case .success(let (live, workspace, reservation)):
            let session = SandboxSession(
                id: UUID().uuidString.lowercased(), language: language, engine: engine, limits: limits,
                workspace: workspace, live: live, sandbox: self, owner: owner)
            sessionRegistry.add(session, using: reservation)
            return session
        case .failure(let error):
            if error.kind == .internalError {
                configuration.logger.error("cannot open a session", metadata: ["error": "\(error.message)"])
            }
            throw error
        }
    }

    /// The open sessions, most recently used first.
    public func sessions() -> [SandboxSession.Info] {
        sessionRegistry.sessions.map(\.info).sorted { $0.idle < $1.idle }
    }

    /// The open session with this id, if any.
    public func session(id: String) -> SandboxSession? { sessionRegistry.session(id: id) }

    /// Admits a session call to wait for its session's turn: session calls waiting count
    /// against ``SandboxConfiguration/maxQueuedExecutions``, as calls waiting for a thread do.
    func admitSessionWaiter() -> Bool {
        guard sessionWaiters.add(1, ordering: .relaxed).newValue <= configuration.maxQueuedExecutions else {
            sessionWaiters.subtract(1, ordering: .relaxed)
            return false
        }
        return true
    }

    /// A session call got its turn and no longer waits.
    func sessionWaiterEntered() { sessionWaiters.subtract(1, ordering: .relaxed) }

    /// One call of a session, on an execution thread (see ``SandboxSession/run(_:stdin:timeout:fuel:progress:)``).
    func runSessionCall(
        _ session: SandboxSession, code: String, stdin: [UInt8], limits: ExecutionLimits,
        progress: ExecutionProgress? = nil
    ) async
        -> ExecutionResult
    {
        let language = session.language == .python ? "Python" : "JavaScript"
        do {
            try configuration.check(limits)
            try configuration.checkSource(code, language: language)
        } catch {
            return counted(failure(error))
        }
        let token = CancellationToken()
        let result = await withTaskCancellationHandler {
            await runOnPool { [self] () -> ExecutionResult in
                // A call cancelled before it started leaves the session as it was.
                if token.isCancelled { return ExecutionResult(status: .cancelled, message: "the call was cancelled") }
                let live: LiveInstance
                switch session.checkOut() {
                case .success(let taken): live = taken
                case .failure(let error): return ExecutionResult(status: .invalidInput, message: error.message)
                }
                return call(
                    session, live: live, code: code, stdin: stdin, limits: limits, progress: progress, token: token)
            }
        } onCancel: {
            token.cancel()
        }
        return counted(result)
    }

    /// A session call's result, counted once by status; a call that did not run did not end
    /// the session.
    func counted(_ result: ExecutionResult) -> ExecutionResult {
        var result = result
        if result.sessionEnded == nil { result.sessionEnded = false }
        metrics.record(result)
        sessionMetrics.call(result.status)
        return result
    }

    private func call(
        _ session: SandboxSession, live: LiveInstance, code: String, stdin: [UInt8], limits: ExecutionLimits,
        progress: ExecutionProgress?, token: CancellationToken
    ) -> ExecutionResult {
        let template = live.execution
        let run = template.run
        guard limits.fuel == nil || template.runtime.metersFuel else {
            _ = session.checkIn(live, endedBecause: nil)
            return ExecutionResult(
                status: .invalidInput,
                message:
                    "this session was opened without a fuel budget, so its calls cannot have one: open the session with a fuel limit"
            )
        }
        run.startCall(limits: limits, stdin: stdin, progress: progress)
        let control = run.control
        session.attach(control)
        token.attach(control)
        let execution = Execution(
            runtime: template.runtime, module: template.module, request: template.request, limits: limits, run: run)
        let start = MonotonicClock.now()
        var quit = false
        var exitedProcess = false
        var result = ticker.whileActive {
            var failure: WasmtimeError?
            do throws(WasmtimeError) {
                try execution.arm(live.store)
                let outcome = try session.languageEngine.run(
                    Array(code.utf8), in: live.instance, control: control, reportsValue: true,
                    freshStdin: live.hadStdin || !stdin.isEmpty)
                live.hadStdin = !stdin.isEmpty
                quit = outcome.quit
                if outcome.status != 0 {
                    failure = .exit(status: outcome.status, message: "the code exited with status \(outcome.status)")
                }
            } catch {
                // A `proc_exit` (Python's `os._exit`) ends the interpreter, not just the call.
                if case .exit = error { exitedProcess = true }
                failure = error
            }
            return execution.result(of: live.store, instance: live.instance, failure: failure)
        }
        result.duration = Duration.nanoseconds(Int64(MonotonicClock.now() - start))
        result.cacheHit = true
        if let (text, truncated) = run.value.map(\.contents), let text {
            result.value = String(decoding: text, as: UTF8.self)
            result.valueTruncated = truncated
        }
        let ending =
            exitedProcess
            ? "the code ended the interpreter's process (exit status \(result.exitCode ?? 0))"
            : Self.endingReason(of: result, quit: quit)
        if session.checkIn(live, endedBecause: ending) { sessionClosed(session, reason: .ended) }
        result.sessionEnded = ending != nil
        if let ending {
            result.message = "\(ending); the session has ended and its state is gone: start a new session"
        }
        return result
    }

    /// Why a call's outcome ends its session, or `nil` when the session goes on: a turn the
    /// sandbox interrupted (or that trapped) may have left the engine in any state.
    private static func endingReason(of result: ExecutionResult, quit: Bool) -> String? {
        switch result.status {
        case .ok, .exited:
            return quit ? "the code called quit()" : nil
        case .invalidInput, .busy:
            return nil
        case .timedOut, .trapped, .outOfFuel, .memoryLimit, .outputLimit, .cancelled, .internalError:
            return result.message ?? "the call ended with \(result.status.rawValue)"
        }
    }

    func sessionClosed(_ session: SandboxSession, reason: SandboxSession.CloseReason) {
        sessionRegistry.remove(session, reason: reason)
    }

    func sessionReleased(id: String) { sessionRegistry.released(id: id) }
}
