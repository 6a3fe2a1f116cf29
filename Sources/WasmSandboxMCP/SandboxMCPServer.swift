import Foundation
import Logging
import MCP
import Synchronization
import WasmSandbox

/// The sandbox served over the Model Context Protocol: `execute_code`, `sandbox_health` and
/// `sandbox_metrics`. One instance serves any number of MCP sessions.
///
/// A run that fails (exception, timeout, limit) is a tool result with `isError: true`;
/// malformed arguments are `invalid params` errors naming the argument. Cancelling a call
/// (`notifications/cancelled`) cancels its task, which stops the run.
public final class SandboxMCPServer: Sendable {
    public let configuration: MCPServerConfiguration
    public let sandbox: Sandbox
    private let stats = Mutex(CallStats())
    /// The sandbox sessions of each connection, by its server; and those of callers of
    /// ``call(_:arguments:)`` outside any connection.
    private let connections = Mutex<[ObjectIdentifier: ClientSessions]>([:])
    private let directSessions: ClientSessions

    struct CallStats {
        var byStatus: [String: Int] = [:]
        var inFlight = 0
        var totalDurationMs = 0.0
    }

    /// Builds the server and its sandbox.
    ///
    /// `sandbox` sets what the server's configuration does not (its logger, caches, engines);
    /// the server's concurrency, memory and code-size limits are applied over it.
    public init(
        configuration: MCPServerConfiguration = MCPServerConfiguration(),
        sandbox sandboxConfiguration: SandboxConfiguration = SandboxConfiguration()
    ) throws {
        try configuration.validate()
        var sandboxConfiguration = sandboxConfiguration
        sandboxConfiguration.maxConcurrentExecutions = configuration.maxConcurrentExecutions
        sandboxConfiguration.maxQueuedExecutions = configuration.maxQueuedExecutions
        sandboxConfiguration.maxMemoryBytes = max(sandboxConfiguration.maxMemoryBytes, configuration.maxMemoryMb << 20)
        sandboxConfiguration.maxSourceBytes = max(sandboxConfiguration.maxSourceBytes, configuration.maxCodeBytes)
        sandboxConfiguration.sessions.maxSessions = configuration.maxCodeSessions
        sandboxConfiguration.sessions.idleTimeout = .seconds(configuration.codeSessionIdleSeconds)
        sandboxConfiguration.sessions.maxTotalMemoryBytes = configuration.codeSessionsMemoryMb << 20
        self.configuration = configuration
        self.sandbox = try Sandbox(configuration: sandboxConfiguration)
        directSessions = ClientSessions(sandbox: sandbox)
    }

    /// Starts an MCP server with the tools registered on `transport` and returns it.
    ///
    /// Until the client's `initialize` request has been answered, tool requests get a JSON-RPC
    /// `invalid request` error: the SDK's lenient mode would run them, and its strict mode drops
    /// them without any response.
    public func startServer(transport: any Transport, logger: Logger? = nil) async throws -> Server {
        let server = Server(
            name: "wasm-sandbox", version: "0.1.0", title: "WebAssembly sandbox",
            instructions: """
                Use execute_code to run untrusted JavaScript, Python or WebAssembly safely. Give it a \
                session_id to keep state across calls (as in a notebook); list_sessions, reset_session and \
                close_session manage those sessions.
                """,
            capabilities: .init(tools: .init(listChanged: false)))
        let initialized = Atomic(false)
        let sessions = ClientSessions(sandbox: sandbox)
        let notInitialized = MCPError.invalidRequest("the session is not initialized: send 'initialize' first")
        await server.withMethodHandler(ListTools.self) { _ in
            guard initialized.load(ordering: .acquiring) else { throw notInitialized }
            return ListTools.Result(tools: ToolDefinitions.all)
        }
        await server.withMethodHandler(CallTool.self) { [self] params in
            guard initialized.load(ordering: .acquiring) else { throw notInitialized }
            return try await call(params.name, arguments: params.arguments, sessions: sessions)
        }
        connections.withLock { $0[ObjectIdentifier(server)] = sessions }
        do {
            try await server.start(transport: transport) { _, _ in initialized.store(true, ordering: .releasing) }
        } catch {
            await connectionClosed(server)
            throw error
        }
        return server
    }

    /// Closes the sandbox sessions of a connection that ended (its server stopped).
    public func connectionClosed(_ server: Server) async {
        let sessions = connections.withLock { $0.removeValue(forKey: ObjectIdentifier(server)) }
        await sessions?.closeAll()
    }

    /// Runs one tool call outside any connection: its sessions are shared by every such caller.
    public func call(_ name: String, arguments: [String: Value]?) async throws -> CallTool.Result {
        try await call(name, arguments: arguments, sessions: directSessions)
    }

    private func call(_ name: String, arguments: [String: Value]?, sessions: ClientSessions) async throws
        -> CallTool.Result
    {
        switch name {
        case ToolDefinitions.executeCode.name: return try await executeCode(arguments, sessions: sessions)
        case ToolDefinitions.listSessions.name: return try await listSessions(arguments, sessions: sessions)
        case ToolDefinitions.resetSession.name, ToolDefinitions.closeSession.name:
            return try await closeSession(
                arguments, sessions: sessions, reset: name == ToolDefinitions.resetSession.name)
        case ToolDefinitions.health.name:
            let report = await sandbox.health()
            return CallTool.Result(
                content: [.text(text: report.message, annotations: nil, _meta: nil)],
                structuredContent: .object(try Self.jsonObject(report)),
                isError: !report.healthy)
        case ToolDefinitions.metrics.name:
            let snapshot = metricsSnapshot()
            return CallTool.Result(
                content: [.text(text: Self.jsonText(snapshot), annotations: nil, _meta: nil)],
                structuredContent: Optional(snapshot), isError: false)
        default:
            throw MCPError.invalidParams(
                "unknown tool '\(name)': the tools are \(ToolDefinitions.all.map(\.name).joined(separator: ", "))")
        }
    }

    private func executeCode(_ raw: [String: Value]?, sessions: ClientSessions) async throws -> CallTool.Result {
        var plan = try ExecuteCodePlan(raw, configuration: configuration)
        let result: ExecutionResult
        let workspace: Workspace?
        // A stateless run's workspace, removed once the result is made. Removal walks the whole
        // tree: on a sandbox thread, never on the cooperative pool.
        var runWorkspace: Workspace?
        defer { runWorkspace?.removeInBackground() }
        if let name = plan.sessionID {
            let session: SandboxSession?
            (session, result) = try await runInSession(named: name, plan: plan, sessions: sessions)
            workspace = session?.workspace
            if let session {
                // The memory cap is the session's, set by the call that opened it: say so.
                plan.limits.memoryBytes = session.limits.memoryBytes
                plan.applied[ExecuteCodeField.memoryMb.name] = .int(session.limits.memoryBytes >> 20)
            }
        } else {
            var request = ExecutionRequest(plan.input)
            request.arguments = plan.arguments
            request.environment = plan.environment
            request.stdin = plan.stdin
            request.limits = plan.limits
            if !plan.files.isEmpty || plan.language == .python {
                runWorkspace = try await Self.workspace(files: plan.files)
                request.workspace = runWorkspace
            }
            result = await counted { await sandbox.execute(request) }
            workspace = request.workspace
        }

        var structured = try Self.jsonObject(result)
        var limits = plan.applied
        limits["clamped"] = .array(plan.clamped.map { .string($0) })
        structured["limits"] = .object(limits)
        if let name = plan.sessionID { structured["session_id"] = .string(name) }
        var omitted = 0
        if let workspace {
            let inline = await inlineFiles(result.files ?? [], of: workspace)
            omitted = inline.omitted
            structured["files"] = .array(inline.entries)
            structured["files_omitted"] = .int(omitted)
        }
        return CallTool.Result(
            content: [
                .text(
                    text: Self.summary(result, plan: plan, omittedFiles: omitted, configuration: configuration),
                    annotations: nil, _meta: nil)
            ],
            structuredContent: Optional(.object(structured)),
            isError: result.status != .ok)
    }

    /// Runs the call in the client's session `name`, opening it on first use; returns the
    /// session that ran it (none when it could not open or had ended) and the result.
    private func runInSession(named name: String, plan: ExecuteCodePlan, sessions: ClientSessions) async throws
        -> (SandboxSession?, ExecutionResult)
    {
        let code: String
        switch plan.input {
        case .javascript(let source), .python(let source): code = source
        case .wasm, .wat:
            throw MCPError.invalidParams(
                "'session_id' works with javascript and python; \(plan.language.rawValue) runs are always fresh")
        }
        guard plan.arguments.isEmpty, plan.environment.isEmpty else {
            throw MCPError.invalidParams(
                "'args' and 'env' cannot be used with 'session_id': a session starts without arguments and with an empty environment"
            )
        }
        let lookup: ClientSessions.Lookup
        do {
            lookup = try await sessions.session(named: name) { [sandbox, plan] in
                try await sandbox.openSession(language: plan.language, limits: plan.limits, files: plan.files)
            }
        } catch let error as SandboxError {
            switch error.kind {
            case .invalidInput: throw MCPError.invalidParams("cannot start session '\(name)': \(error.message)")
            case .busy: return (nil, ExecutionResult(status: .busy, message: error.message))
            case .internalError: throw MCPError.internalError(error.message)
            }
        }
        switch lookup {
        case .gone(let session):
            var result = await session.run(code)
            result.message =
                (result.message ?? "the session is closed")
                + ": call execute_code again with this session_id to start a new, empty session"
            return (nil, result)
        case .open(let session, let opened):
            guard session.language == plan.language else {
                throw MCPError.invalidParams(
                    "session '\(name)' runs \(session.language.rawValue), not \(plan.language.rawValue): use another session_id"
                )
            }
            guard opened || plan.files.isEmpty else {
                throw MCPError.invalidParams(
                    "'files' can only be given on the call that starts a session; later calls can write files from code"
                )
            }
            let result = await counted {
                await session.run(code, stdin: plan.stdin, timeout: plan.limits.timeout, fuel: plan.limits.fuel)
            }
            return (session, result)
        }
    }

    private static func workspace(files: [String: [UInt8]]) async throws -> Workspace {
        do { return try await Workspace.create(files: files) } catch {
            switch error.kind {
            case .invalidInput: throw MCPError.invalidParams("'files': \(error.message)")
            case .internalError, .busy: throw MCPError.internalError(error.message)
            }
        }
    }

    /// Runs a call, counted in the server's statistics.
    private func counted(_ run: () async -> ExecutionResult) async -> ExecutionResult {
        stats.withLock { $0.inFlight += 1 }
        let result = await run()
        stats.withLock {
            $0.inFlight -= 1
            $0.byStatus[result.status.rawValue, default: 0] += 1
            $0.totalDurationMs +=
                Double(result.duration.components.attoseconds) / 1e15
                + Double(result.duration.components.seconds) * 1000
        }
        return result
    }

    private func listSessions(_ raw: [String: Value]?, sessions: ClientSessions) async throws -> CallTool.Result {
        guard (raw ?? [:]).isEmpty else {
            throw MCPError.invalidParams("list_sessions takes no arguments")
        }
        let entries: [Value] = await sessions.list().map { name, info in
            .object([
                "session_id": .string(name), "language": .string(info.language.rawValue),
                "age_seconds": .double(Self.seconds(info.age)), "idle_seconds": .double(Self.seconds(info.idle)),
                "memory_bytes": .int(info.memoryBytes), "calls": .int(info.calls), "running": .bool(info.running),
            ])
        }
        let structured = Value.object(["sessions": .array(entries)])
        return CallTool.Result(
            content: [.text(text: Self.jsonText(structured), annotations: nil, _meta: nil)],
            structuredContent: Optional(structured), isError: false)
    }

    private func closeSession(_ raw: [String: Value]?, sessions: ClientSessions, reset: Bool) async throws
        -> CallTool.Result
    {
        let given = raw ?? [:]
        if let unknown = given.keys.sorted().first(where: { $0 != ExecuteCodeField.sessionID.name }) {
            throw MCPError.invalidParams("unknown argument '\(unknown)'")
        }
        guard let value = given[ExecuteCodeField.sessionID.name] else {
            throw MCPError.invalidParams("missing argument 'session_id'")
        }
        let name = try ExecuteCodeField.sessionID.sessionName(value)
        let closed = await sessions.close(named: name)
        let text =
            closed
            ? (reset
                ? "session '\(name)' was reset: its state is gone, and the next execute_code with this session_id starts a new, empty session"
                : "session '\(name)' was closed")
            : "no session '\(name)' is open on this connection"
        return CallTool.Result(
            content: [.text(text: text, annotations: nil, _meta: nil)],
            structuredContent: Optional(.object(["session_id": .string(name), "closed": .bool(closed)])),
            isError: !closed)
    }

    private static func seconds(_ duration: Duration) -> Double {
        Double(duration.components.seconds) + Double(duration.components.attoseconds) / 1e18
    }

    /// The workspace files as result entries: each with its path and size, and its contents
    /// (`text`, or `base64` when not UTF-8) while it fits under the per-file and the total
    /// inline budgets; the files beyond are listed without contents and counted in `omitted`.
    /// The reads happen off the cooperative pool, since they block on the disk.
    private func inlineFiles(_ files: [WorkspaceFile], of workspace: Workspace) async -> (
        entries: [Value], omitted: Int
    ) {
        let perFile = configuration.maxInlineFileBytes
        let total = configuration.maxInlineTotalBytes
        return await withCheckedContinuation { continuation in
            DispatchQueue.global().async {
                var budget = total
                var omitted = 0
                let entries = files.map { file -> Value in
                    var entry: [String: Value] = ["path": .string(file.path), "size": .int(file.size)]
                    if file.size <= perFile, file.size <= budget, let bytes = workspace.contents(of: file.path),
                        bytes.count <= budget
                    {
                        budget -= bytes.count
                        if let text = String(validating: bytes, as: UTF8.self) {
                            entry["text"] = .string(text)
                        } else {
                            entry["base64"] = .string(Data(bytes).base64EncodedString())
                        }
                    } else {
                        omitted += 1
                    }
                    return .object(entry)
                }
                continuation.resume(returning: (entries, omitted))
            }
        }
    }

    /// What a model reads: output, then one line saying how the run ended and under which limits.
    static func summary(
        _ result: ExecutionResult, plan: ExecuteCodePlan, omittedFiles: Int = 0,
        configuration: MCPServerConfiguration = MCPServerConfiguration()
    ) -> String {
        var text = ""
        if !result.stdout.isEmpty {
            text += "stdout:\n\(result.stdoutText)\(result.stdoutText.hasSuffix("\n") ? "" : "\n")"
        }
        if !result.stderr.isEmpty {
            text += "stderr:\n\(result.stderrText)\(result.stderrText.hasSuffix("\n") ? "" : "\n")"
        }
        if let value = result.value {
            text += "value\(result.valueTruncated ? " (cut at the output cap)" : ""):\n\(value)\n"
        }
        let limits = plan.limits
        var line = "status: \(result.status.rawValue)"
        if let code = result.exitCode { line += ", exit code \(code)" }
        if let message = result.message, result.status != .ok, result.status != .exited {
            line += " — \(message.split(separator: "\n").first.map(String.init) ?? message)"
        }
        line +=
            " (limits: timeout \(limits.timeout.components.seconds * 1000 + limits.timeout.components.attoseconds / 1_000_000_000_000_000) ms, memory \(limits.memoryBytes >> 20) MiB"
        if let fuel = limits.fuel { line += ", fuel \(fuel)" }
        if !plan.clamped.isEmpty { line += "; clamped: \(plan.clamped.joined(separator: ", "))" }
        if omittedFiles > 0 {
            text +=
                "files: \(omittedFiles) of \(result.files?.count ?? 0) workspace files listed without contents "
                + "(inline limits: \(configuration.maxInlineFileBytes) bytes a file, "
                + "\(configuration.maxInlineTotalBytes) bytes in all)\n"
        }
        return text + line + ")"
    }

    private func metricsSnapshot() -> Value {
        let stats = stats.withLock { $0 }
        return .object([
            "calls": .int(stats.byStatus.values.reduce(0, +)),
            "by_status": .object(stats.byStatus.mapValues { .int($0) }),
            "in_flight": .int(stats.inFlight),
            "code_sessions_open": .int(sandbox.sessions().count),
            "total_duration_ms": .double(stats.totalDurationMs),
            "limits": .object([
                "max_timeout_ms": .int(configuration.maxTimeoutMs), "max_memory_mb": .int(configuration.maxMemoryMb),
                "max_output_kb": .int(configuration.maxOutputKb), "max_code_bytes": .int(configuration.maxCodeBytes),
                "max_concurrent": .int(configuration.maxConcurrentExecutions),
            ]),
        ])
    }

    /// An encodable value as the JSON object MCP carries.
    private static func jsonObject(_ value: some Encodable) throws -> [String: Value] {
        try JSONDecoder().decode([String: Value].self, from: JSONEncoder().encode(value))
    }

    private static func jsonText(_ value: Value) -> String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        return (try? encoder.encode(value)).map { String(decoding: $0, as: UTF8.self) } ?? "{}"
    }
}
