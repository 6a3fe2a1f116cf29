import MCP
import Synchronization
import WasmSandbox

/// The sandbox sessions of one MCP connection, by the names its client gave them.
///
/// Every connection (a stdio client, an HTTP MCP session) has its own: a name is looked up
/// only among its own connection's sessions, so no client can reach another's session, even
/// by guessing its name. A session the sandbox closed (ended by a failed call, expired,
/// evicted) stays listed until its client is told so once; its name then starts afresh.
actor ClientSessions {
    /// Names this connection for what outlives a call (files kept for `resources/read`):
    /// unique for the server's lifetime, where an object's address is reused once it is freed.
    nonisolated let owner: UInt64 = ClientSessions.nextOwner.add(1, ordering: .relaxed).newValue
    private static let nextOwner = Atomic<UInt64>(0)
    private let sandbox: Sandbox
    /// The connection's client, the owner of the sandbox sessions it opens.
    nonisolated let client: String
    private var sessions: [String: SandboxSession] = [:]
    /// Sessions being opened, so that concurrent first calls with one name share one session.
    private var opening: [String: Task<SandboxSession, any Error>] = [:]
    private var closed = false
    /// Each open session's files after its last call (by session id), to tell which files the
    /// next call creates or changes.
    private var stamps: [String: [String: RunFiles.Stamp]] = [:]

    init(sandbox: Sandbox, client: String) {
        self.sandbox = sandbox
        self.client = client
    }

    /// What a call finds under a name: an open session (`opened` when this call opened it),
    /// or one the sandbox closed, to report.
    enum Lookup {
        case open(SandboxSession, opened: Bool)
        case gone(SandboxSession)
    }

    /// The session named `name`, opened with `open` when there is none. A session the
    /// sandbox closed is returned once as `gone` and forgotten.
    func session(named name: String, open: @escaping @Sendable () async throws -> SandboxSession) async throws
        -> Lookup
    {
        if let session = sessions[name] {
            guard session.isOpen else {
                sessions[name] = nil
                return .gone(session)
            }
            return .open(session, opened: false)
        }
        guard !closed else { throw MCPError.internalError("the connection is closing") }
        if let pending = opening[name] { return .open(try await pending.value, opened: false) }
        // Names of sessions the sandbox closed are dropped here, so that a client cycling
        // through names holds no more entries than the sandbox holds open sessions.
        sessions = sessions.filter { $0.value.isOpen }
        let task = Task { try await open() }
        opening[name] = task
        defer { opening[name] = nil }
        let session = try await task.value
        if closed {
            await session.close()
            throw MCPError.internalError("the connection is closing")
        }
        sessions[name] = session
        return .open(session, opened: true)
    }

    /// The open session named `name`, without opening one.
    func existing(named name: String) -> SandboxSession? {
        sessions[name].flatMap { $0.isOpen ? $0 : nil }
    }

    /// The open sessions, by name.
    func openSessions() -> [(name: String, session: SandboxSession)] {
        sessions.filter { $0.value.isOpen }.map { ($0.key, $0.value) }.sorted { $0.name < $1.name }
    }

    /// The files `session` had after its last call; `nil` before its first.
    func stamps(of session: SandboxSession) -> [String: RunFiles.Stamp]? { stamps[session.id] }

    /// Records the files `session` has after a call.
    func record(_ files: [WorkspaceFile], of session: SandboxSession) {
        let live = Set(sessions.values.filter(\.isOpen).map(\.id))
        stamps = stamps.filter { live.contains($0.key) }
        guard live.contains(session.id) else { return }
        stamps[session.id] = Dictionary(files.map { ($0.path, RunFiles.Stamp($0)) }, uniquingKeysWith: { $1 })
    }

    /// Closes and forgets the session named `name`; false when there is none.
    func close(named name: String) async -> Bool {
        guard let session = sessions.removeValue(forKey: name) else { return false }
        await session.close()
        return true
    }

    /// The open sessions with their names, by name.
    func list() -> [(name: String, info: SandboxSession.Info)] {
        sessions.filter { $0.value.isOpen }.map { ($0.key, $0.value.info) }.sorted { $0.name < $1.name }
    }

    /// Whether the connection is gone.
    var isClosed: Bool { closed }

    /// Closes every session: the connection is gone.
    func closeAll() async {
        closed = true
        let all = sessions.values
        sessions = [:]
        for session in all { await session.close() }
    }
}
