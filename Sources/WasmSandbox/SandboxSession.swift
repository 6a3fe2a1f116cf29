import Foundation
import Synchronization
import Wasmtime

/// State that lives across calls: one JavaScript or Python engine instance kept alive, given
/// one turn per call, as a notebook keeps its kernel. Variables, functions, imports and the
/// files in its workspace (mounted at `/workspace`) persist from one call to the next.
///
/// ```swift
/// let session = try await sandbox.openSession(language: .python)
/// _ = await session.run("import pandas as pd; df = pd.DataFrame({'x': [1, 2, 3]})")
/// let result = await session.run("df.x.sum()")
/// print(result.value ?? "")  // 6
/// await session.close()
/// ```
///
/// Calls on one session run one at a time, in the order they were made, on the sandbox's
/// execution threads and under its `busy` rules; an idle session holds no thread. Each call
/// has its own timeout, fuel and output caps; the memory cap and the workspace's file quota
/// belong to the session. A call that times out, traps, is cancelled or hits a limit ends the
/// session (its state cannot be trusted after an interrupted turn): the result says so in
/// ``ExecutionResult/sessionEnded``, and later calls fail with a message saying to open a new
/// session. An uncaught exception or a non-zero exit does not end it.
///
/// The sandbox closes idle sessions after ``SessionSettings/idleTimeout``, and the least
/// recently used idle ones when ``SessionSettings/maxSessions`` or
/// ``SessionSettings/maxTotalMemoryBytes`` would be passed. Releasing the last reference
/// closes a session too.
public final class SandboxSession: Sendable, Identifiable {
    /// Why a session was closed.
    public enum CloseReason: String, Sendable, CaseIterable {
        /// ``close()`` was called, or the session was released.
        case closed
        /// It had no call for the idle timeout.
        case expired
        /// It was the least recently used idle session when another needed room.
        case evicted
        /// A call timed out, trapped, was cancelled or hit a limit, or the code quit.
        case ended
    }

    /// What a session is doing, as ``Sandbox/sessions()`` reports it.
    public struct Info: Sendable, Hashable {
        public var id: String
        public var language: Language
        /// Time since the session was opened.
        public var age: Duration
        /// Time since its last call ended (zero while a call runs).
        public var idle: Duration
        /// The size its linear memory has grown to.
        public var memoryBytes: Int
        public var calls: Int
        public var running: Bool
    }

    /// A random identifier, unique in the process.
    public let id: String
    public let language: Language
    /// The session's limits: its memory cap and file quota hold for its whole life; its
    /// timeout, fuel and output caps are each call's defaults.
    public let limits: ExecutionLimits
    /// The session's files, mounted at `/workspace`; removed when the session closes.
    public let workspace: Workspace
    /// Who opened it (``Sandbox/openSession(language:limits:files:owner:)``): the caps on all
    /// sessions close only idle sessions of the opener or of an owner holding more.
    public let owner: String?
    let sandbox: Sandbox
    private let engine: LanguageEngine
    private let opened = ContinuousClock.now
    private let gate = SerialGate()
    private let state: Mutex<State>

    private struct State {
        var live: LiveInstance?
        var closed: CloseReason?
        /// Why the call that ended the session did, for the next caller.
        var endedBecause: String?
        var running = false
        var control: RunControl?
        var lastUsed = ContinuousClock.now
        var memoryBytes: Int
        var calls = 0
    }

    init(
        id: String, language: Language, engine: LanguageEngine, limits: ExecutionLimits, workspace: Workspace,
        live: LiveInstance, sandbox: Sandbox, owner: String? = nil
    ) {
        self.id = id
        self.owner = owner
        self.language = language
        self.engine = engine
        self.limits = limits
        self.workspace = workspace
        self.sandbox = sandbox
        state = Mutex(State(live: live, memoryBytes: live.instance.memorySize() ?? 0))
    }

    deinit {
        // The store goes with `state`; the workspace is removed off the caller's thread,
        // unless close() removed it already.
        if state.withLock({ $0.closed == nil }) { workspace.removeInBackground() }
        sandbox.sessionReleased(id: id)
    }

    /// Runs `code` in the session: the same ``ExecutionResult`` as a stateless run, plus
    /// ``ExecutionResult/value``, the text of the final expression (REPL style: `1+1` gives
    /// `2`, a DataFrame its table), when there is one.
    ///
    /// - Parameters:
    ///   - stdin: What this call's code reads from standard input.
    ///   - timeout: This call's wall-clock limit (default: the session's).
    ///   - fuel: This call's fuel budget (default: the session's).
    ///   - progress: Counts the call's output while it runs.
    public func run(
        _ code: String, stdin: [UInt8] = [], timeout: Duration? = nil, fuel: UInt64? = nil,
        progress: ExecutionProgress? = nil
    ) async
        -> ExecutionResult
    {
        var callLimits = limits
        if let timeout { callLimits.timeout = timeout }
        if let fuel { callLimits.fuel = fuel }
        // Calls waiting for their turn hold their code and stdin: they count against the
        // sandbox's wait queue, as calls waiting for a thread do.
        guard sandbox.admitSessionWaiter() else {
            return sandbox.counted(
                ExecutionResult(status: .busy, message: "all execution slots and the wait queue are full"))
        }
        await gate.enter()
        sandbox.sessionWaiterEntered()
        defer { gate.leave() }
        return await sandbox.runSessionCall(self, code: code, stdin: stdin, limits: callLimits, progress: progress)
    }

    /// Closes the session: a call running now is stopped, its state and workspace are freed.
    public func close() async {
        close(.closed)
    }

    /// Whether the session is open.
    public var isOpen: Bool { state.withLock { $0.closed == nil } }

    /// The session's state now.
    public var info: Info {
        let now = ContinuousClock.now
        return state.withLock {
            Info(
                id: id, language: language, age: now - opened, idle: $0.running ? .zero : now - $0.lastUsed,
                memoryBytes: $0.memoryBytes, calls: $0.calls, running: $0.running)
        }
    }

    /// Closes the session for `reason`; returns false when it was closed already.
    @discardableResult
    func close(_ reason: CloseReason) -> Bool {
        let (closedNow, running, live) = state.withLock { state -> (Bool, RunControl?, LiveInstance?) in
            guard state.closed == nil else { return (false, nil, nil) }
            state.closed = reason
            // A running call keeps its instance until it returns; it frees it then.
            return (true, state.running ? state.control : nil, state.running ? nil : state.live.take())
        }
        running?.stop(.cancelled)
        _ = live
        if closedNow {
            sandbox.sessionClosed(self, reason: reason)
            workspace.removeInBackground()
        }
        return closedNow
    }

    /// Idle since, or `nil` while a call runs or waits for its turn.
    var idleSince: ContinuousClock.Instant? {
        if gate.isBusy { return nil }
        return state.withLock { !$0.running && $0.closed == nil ? $0.lastUsed : nil }
    }

    var memoryBytes: Int { state.withLock { $0.memoryBytes } }

    /// Takes the instance for a call; fails with the reason when the session is closed.
    func checkOut() -> Result<LiveInstance, SandboxError> {
        state.withLock { state in
            guard state.closed == nil, let live = state.live.take() else {
                let why = state.endedBecause.map { ": \($0)" } ?? ""
                let reason =
                    switch state.closed ?? .closed {
                    case .closed: "was closed"
                    case .expired: "expired after being idle for \(sandbox.configuration.sessions.idleTimeout)"
                    case .evicted: "was closed to make room for newer sessions (the least recently used idle one)"
                    case .ended: "has ended\(why)"
                    }
                return .failure(SandboxError("session \(id) \(reason); start a new session"))
            }
            state.running = true
            return .success(live)
        }
    }

    /// Records the running call's control, so that ``close()`` can stop it; stops it at once
    /// when the session was closed since the call took the instance.
    func attach(_ control: RunControl) {
        let closed = state.withLock { state -> Bool in
            state.control = control
            return state.closed != nil
        }
        if closed { control.stop(.cancelled) }
    }

    /// Gives the instance back after a call, or frees it when the call ended the session or
    /// the session was closed meanwhile. Returns true when this call's `reason` closed it.
    func checkIn(_ live: LiveInstance, endedBecause reason: String?) -> Bool {
        state.withLock { state in
            state.running = false
            state.control = nil
            state.lastUsed = .now
            state.calls += 1
            state.memoryBytes = live.instance.memorySize() ?? state.memoryBytes
            if reason != nil, state.closed == nil {
                state.closed = .ended
                state.endedBecause = reason
                return true
            }
            if state.closed == nil { state.live = live }
            return false
        }
    }

    var languageEngine: LanguageEngine { engine }
}

/// A session's engine instance and everything it needs to run a call: owned by the session
/// while idle, and by the one thread running a call otherwise, never by two at once.
final class LiveInstance: @unchecked Sendable {
    let store: Store<RunState>
    let instance: Instance<RunState>
    /// How calls run: the session's runtime, module, request and limits.
    let execution: Execution
    /// Whether the last call was given stdin, which the engine may still hold some of.
    var hadStdin = false

    init(store: Store<RunState>, instance: Instance<RunState>, execution: Execution) {
        self.store = store
        self.instance = instance
        self.execution = execution
    }
}
