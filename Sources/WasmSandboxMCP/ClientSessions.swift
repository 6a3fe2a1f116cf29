import MCP
import WasmSandbox

/// The sandbox sessions of one MCP connection, by the names its client gave them.
///
/// Every connection (a stdio client, an HTTP MCP session) has its own: a name is looked up
/// only among its own connection's sessions, so no client can reach another's session, even
/// by guessing its name. A session the sandbox closed (ended by a failed call, expired,
/// evicted) stays listed until its client is told so once; its name then starts afresh.
actor ClientSessions {
    private let sandbox: Sandbox
    private var sessions: [String: SandboxSession] = [:]
    /// Sessions being opened, so that concurrent first calls with one name share one session.
    private var opening: [String: Task<SandboxSession, any Error>] = [:]
    private var closed = false

    init(sandbox: Sandbox) { self.sandbox = sandbox }

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

    /// Closes every session: the connection is gone.
    func closeAll() async {
        closed = true
        let all = sessions.values
        sessions = [:]
        for session in all { await session.close() }
    }
}
