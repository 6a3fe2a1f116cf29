import Foundation
import Logging
import MCP
import Synchronization
import WasmSandbox

/// The sandbox served over the Model Context Protocol: `execute_code`, the session tools,
/// `sandbox_health` and `sandbox_metrics`, and the files runs leave as resources. One
/// instance serves any number of MCP connections.
///
/// Results are written for agents (SEP-1303): a program that fails (exception, exit code,
/// trap, timeout, limit) is a normal result whose text starts with its status, since the tool
/// did its job; `isError: true` means the server could not carry the call out (invalid
/// arguments, busy, internal error), with the reason in the text for the model to act on.
/// Only an unknown tool or a malformed request is a JSON-RPC error. A cancelled call
/// (`notifications/cancelled`) stops its run and gets no answer.
public final class SandboxMCPServer: Sendable {
    public let configuration: MCPServerConfiguration
    public let sandbox: Sandbox
    private let stats = Mutex(CallStats())
    /// The sandbox sessions of each connection, by its server; and those of callers of
    /// ``call(_:arguments:)`` outside any connection.
    private let connections = Mutex<[ObjectIdentifier: ClientSessions]>([:])
    private let direct: Connection
    /// Each authenticated client's use of its quotas.
    let quotas: ClientQuotas
    /// One line per call, and the metrics by client.
    let audit: AuditLog
    /// Workspaces of stateless runs whose files results link to, for `resources/read`.
    let retained: RetainedRuns

    struct CallStats {
        var byStatus: [String: Int] = [:]
        var inFlight = 0
        var totalDurationMs = 0.0
    }

    /// Builds the server and its sandbox.
    ///
    /// `sandbox` sets what the server's configuration does not (its logger, caches, engines);
    /// the server's concurrency, memory and code-size limits are applied over it. The audit
    /// trail (one line per call) goes to `auditLogger`.
    public init(
        configuration: MCPServerConfiguration = MCPServerConfiguration(),
        sandbox sandboxConfiguration: SandboxConfiguration = SandboxConfiguration(),
        auditLogger: Logger = Logger(label: "wasm-sandbox.audit")
    ) throws {
        try configuration.validate()
        var sandboxConfiguration = sandboxConfiguration
        sandboxConfiguration.backend = configuration.backend
        sandboxConfiguration.maxConcurrentExecutions = configuration.maxConcurrentExecutions
        sandboxConfiguration.maxQueuedExecutions = configuration.maxQueuedExecutions
        sandboxConfiguration.maxMemoryBytes = max(sandboxConfiguration.maxMemoryBytes, configuration.maxMemoryMb << 20)
        sandboxConfiguration.maxSourceBytes = max(sandboxConfiguration.maxSourceBytes, configuration.maxCodeBytes)
        sandboxConfiguration.sessions.maxSessions = configuration.maxCodeSessions
        sandboxConfiguration.sessions.idleTimeout = .seconds(configuration.codeSessionIdleSeconds)
        sandboxConfiguration.sessions.maxTotalMemoryBytes = configuration.codeSessionsMemoryMb << 20
        self.configuration = configuration
        self.sandbox = try Sandbox(configuration: sandboxConfiguration)
        direct = Connection(sandbox: sandbox, caller: .library)
        retained = RetainedRuns(grace: .seconds(configuration.resourceGraceSeconds))
        quotas = ClientQuotas(window: .seconds(configuration.quotaWindowSeconds))
        audit = AuditLog(logger: auditLogger, includeCode: configuration.auditCode, metrics: ClientMetrics())
    }

    /// Starts an MCP server with the tools and resources registered on `transport` and returns it.
    ///
    /// Until the client's `initialize` request has been answered, requests get a JSON-RPC
    /// `invalid request` error: the SDK's lenient mode would run them, and its strict mode drops
    /// them without any response.
    public func startServer(transport: any Transport, logger: Logger? = nil) async throws -> Server {
        try await startServer(transport: transport, connection: Connection(sandbox: sandbox, caller: .library))
    }

    /// What the server keeps of one MCP connection: who is on it, whether it is initialized,
    /// and its code sessions. Shared with the stdio transport's ``ToolCallShortcut``.
    final class Connection: Sendable {
        let sessions: ClientSessions
        let caller: AuditLog.Caller
        private let ready = Atomic(false)

        init(sandbox: Sandbox, caller: AuditLog.Caller) {
            sessions = ClientSessions(sandbox: sandbox, client: caller.client)
            self.caller = caller
        }

        /// Whether the client's `initialize` has been answered.
        var initialized: Bool { ready.load(ordering: .acquiring) }

        func markInitialized() { ready.store(true, ordering: .releasing) }
    }

    func startServer(transport: any Transport, connection: Connection) async throws -> Server {
        let server = Server(
            name: "wasm-sandbox", version: "0.1.0", title: "WebAssembly sandbox",
            instructions: """
                Use execute_code to run untrusted JavaScript, Python or WebAssembly safely. Give it a \
                session_id to keep state across calls (as in a notebook); list_sessions, reset_session and \
                close_session manage those sessions. Files a run creates come back as resource links \
                (resources/read) and images (plots) as image content.
                """,
            capabilities: .init(
                resources: .init(subscribe: false, listChanged: false), tools: .init(listChanged: false)))
        let sessions = connection.sessions
        let notInitialized = MCPError.invalidRequest("the session is not initialized: send 'initialize' first")
        await server.withMethodHandler(ListTools.self) { _ in
            guard connection.initialized else { throw notInitialized }
            return ListTools.Result(tools: ToolDefinitions.all)
        }
        // Weak: the server keeps its handlers, so a strong reference would keep it forever.
        let notifier = WeakServer(server)
        await server.withMethodHandler(CallTool.self) { [self] params in
            guard connection.initialized else { throw notInitialized }
            let progress = params._meta?.progressToken.map { token in
                ProgressReporter(token: token) { notification in try? await notifier.server?.notify(notification) }
            }
            return try await call(params.name, arguments: params.arguments, connection: connection, progress: progress)
        }
        await server.withMethodHandler(ReadResource.self) { [self] params in
            guard connection.initialized else { throw notInitialized }
            return try await readResource(params.uri, sessions: sessions)
        }
        await server.withMethodHandler(ListResources.self) { [self] _ in
            guard connection.initialized else { throw notInitialized }
            return ListResources.Result(resources: await listResources(sessions: sessions))
        }
        connections.withLock { $0[ObjectIdentifier(server)] = sessions }
        do {
            try await server.start(transport: transport) { _, _ in connection.markInitialized() }
        } catch {
            await connectionClosed(server)
            throw error
        }
        return server
    }

    /// Closes the sandbox sessions of a connection that ended (its server stopped), and drops
    /// the run files kept for it.
    public func connectionClosed(_ server: Server) async {
        let sessions = connections.withLock { $0.removeValue(forKey: ObjectIdentifier(server)) }
        guard let sessions else { return }
        await sessions.closeAll()
        await retained.release(sessions.owner)
    }

    /// Tool calls running now, on every connection.
    public var callsInFlight: Int { stats.withLock { $0.inFlight } }

    /// Runs one tool call outside any connection: its sessions are shared by every such caller.
    public func call(_ name: String, arguments: [String: Value]?) async throws -> CallTool.Result {
        try await call(name, arguments: arguments, connection: direct, progress: nil)
    }

    /// Reads a file a result linked to, as a caller outside any connection.
    public func readResource(_ uri: String) async throws -> ReadResource.Result {
        try await readResource(uri, sessions: direct.sessions)
    }

    /// One tool call, for the SDK's handler and ``ToolCallShortcut`` alike: admitted by the
    /// caller's quotas, run, and written to the audit trail. A call whose task was cancelled
    /// (`notifications/cancelled`, a client gone) throws `CancellationError`, which neither
    /// answers: the spec says not to.
    func call(
        _ name: String, arguments: [String: Value]?, connection: Connection, progress: ProgressReporter?
    ) async throws -> CallTool.Result {
        let started = ContinuousClock.now
        let caller = connection.caller
        let isRun = name == ToolDefinitions.executeCode.name
        let budget = caller.authenticated ? RunBudget(quotas: quotas, client: caller.client) : nil
        var refusal: ClientQuotas.Refusal?
        var result: CallTool.Result
        do {
            do {
                try budget?.admit(run: isRun)
                defer { budget?.end() }
                result = try await tool(
                    name, arguments: arguments, sessions: connection.sessions, progress: progress, budget: budget)
            } catch let refused as ClientQuotas.Refusal {
                refusal = refused
                result = Self.failure(.busy, refused.message, structured: isRun, extra: refused.fields)
            }
            try Task.checkCancellation()
        } catch {
            let status = error is CancellationError ? "cancelled" : "error"
            let unanswered = CallTool.Result(content: [], structuredContent: ["status": .string(status)], isError: true)
            audit.call(
                name, arguments: arguments, result: unanswered, caller: caller, elapsed: .now - started, refusal: nil)
            throw error
        }
        audit.call(
            name, arguments: arguments, result: result, caller: caller, elapsed: .now - started, refusal: refusal)
        return result
    }

    private func tool(
        _ name: String, arguments: [String: Value]?, sessions: ClientSessions, progress: ProgressReporter?,
        budget: RunBudget?
    ) async throws -> CallTool.Result {
        switch name {
        case ToolDefinitions.executeCode.name:
            return try await answer(structured: true) {
                try await executeCode(arguments, sessions: sessions, progress: progress, budget: budget)
            }
        case ToolDefinitions.listSessions.name:
            return try await answer { try await listSessions(arguments, sessions: sessions) }
        case ToolDefinitions.resetSession.name, ToolDefinitions.closeSession.name:
            return try await answer {
                try await closeSession(arguments, sessions: sessions, reset: name == ToolDefinitions.resetSession.name)
            }
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
            // An unknown tool is a protocol error (the spec's example says so), not a result.
            throw MCPError.invalidParams(
                "unknown tool '\(name)': the tools are \(ToolDefinitions.all.map(\.name).joined(separator: ", "))")
        }
    }

    /// The tool's result; or, when it could not be carried out, a result with `isError: true`
    /// whose text says why, which is what a model sees and can correct (SEP-1303). With
    /// `structured`, that result also carries the fields `execute_code`'s schema requires.
    private func answer(structured: Bool = false, _ tool: () async throws -> CallTool.Result) async throws
        -> CallTool.Result
    {
        let status: ExecutionResult.Status
        let text: String
        do { return try await tool() } catch let cancelled as CancellationError {
            throw cancelled
        } catch let refusal as ClientQuotas.Refusal {
            throw refusal
        } catch let error as MCPError {
            switch error {
            case .invalidParams(let message):
                (status, text) = (.invalidInput, "invalid arguments: \(message ?? "")")
            case .internalError(let message):
                (status, text) = (.internalError, "internal error: \(message ?? "")")
            default: (status, text) = (.internalError, "internal error: \(error.localizedDescription)")
            }
        } catch {
            (status, text) = (.internalError, "internal error: \(error)")
        }
        return Self.failure(status, text, structured: structured)
    }

    /// A result saying the call could not be carried out, and why. With `structured`, it also
    /// carries the fields `execute_code`'s schema requires.
    private static func failure(
        _ status: ExecutionResult.Status, _ text: String, structured: Bool, extra: [String: Value] = [:]
    ) -> CallTool.Result {
        let fields: Value? =
            structured
            ? .object(
                [
                    "status": .string(status.rawValue), "message": .string(text), "stdout": "", "stderr": "",
                    "limits": .object([:]),
                ].merging(extra) { $1 }) : nil
        return CallTool.Result(
            content: [.text(text: "status: \(status.rawValue): \(text)", annotations: nil, _meta: nil)],
            structuredContent: fields, isError: true)
    }

    private func executeCode(
        _ raw: [String: Value]?, sessions: ClientSessions, progress: ProgressReporter?, budget: RunBudget?
    ) async throws -> CallTool.Result {
        var plan = try ExecuteCodePlan(raw, configuration: configuration)
        if let budget {
            // The run may use no more of the client's run-time budget than is left of it.
            plan.clampTimeout(to: try budget.hold(plan.limits.timeout))
        }
        // Output is counted as it is written only when someone reports it.
        let tracker = progress.map { _ in ExecutionProgress() }
        let ran: Ran
        if let name = plan.sessionID {
            ran = try await runInSession(
                named: name, plan: plan, sessions: sessions, progress: tracker, reporter: progress, budget: budget)
            if let session = ran.session {
                // The memory cap is the session's, set by the call that opened it: say so.
                plan.limits.memoryBytes = session.limits.memoryBytes
                plan.applied[ExecuteCodeField.memoryMb.name] = .int(session.limits.memoryBytes >> 20)
            }
        } else {
            ran = try await runStateless(plan, progress: tracker, reporter: progress)
        }
        // A stateless run's workspace goes once the result is made, unless its files are kept
        // for `resources/read`. Removal walks the whole tree: on an I/O thread.
        var keep = false
        defer { if !keep, ran.session == nil { ran.workspace?.removeInBackground() } }
        budget?.charge(ran.result.duration)
        try Task.checkCancellation()
        let result = ran.result

        var report = RunFiles.Report()
        if let workspace = ran.workspace, let listing = result.files {
            let runID = RetainedRuns.newID()
            let uri: @Sendable (String) -> String =
                if let name = plan.sessionID {
                    { ResourceURI.session(name: name, path: $0).text }
                } else {
                    { ResourceURI.run(id: runID, path: $0).text }
                }
            report = await RunFiles.report(
                listing, in: workspace, baseline: ran.baseline, configuration: configuration, uri: uri)
            if let session = ran.session {
                await sessions.record(listing, of: session)
            } else if !report.files.isEmpty, !(await sessions.isClosed) {
                keep = true
                await retained.retain(workspace, id: runID, owner: sessions.owner)
            }
        }

        // The run's whole listing is replaced by the report of what it created or changed: not
        // encoded first only to be thrown away.
        var listed = result
        listed.files = nil
        var structured = try Self.jsonObject(listed)
        var limits = plan.applied
        limits["clamped"] = .array(plan.clamped.map { .string($0) })
        structured["limits"] = .object(limits)
        if let name = plan.sessionID { structured["session_id"] = .string(name) }
        if ran.workspace != nil {
            structured["files"] = .array(report.files.map { .object($0.entry) })
            structured["files_omitted"] = .int(report.omitted)
        }
        var content: [Tool.Content] = [
            .text(
                text: ResultText.render(result, plan: plan, files: report.files, budget: configuration.textBudgetChars),
                annotations: nil, _meta: nil)
        ]
        for file in report.files {
            if let image = file.image {
                content.append(.image(data: image, mimeType: file.mimeType, annotations: nil, _meta: nil))
            }
        }
        for file in report.files.prefix(RunFiles.maxListed) {
            // A link typed image/* is turned into an image URL by some frameworks
            // (langchain-mcp-adapters), which a model provider cannot fetch: an image already
            // sent as image content is linked without a type.
            content.append(
                .resourceLink(
                    uri: file.uri, name: file.path, description: "\(file.size) bytes the run left in /workspace",
                    mimeType: file.image == nil ? file.mimeType : nil))
        }
        return CallTool.Result(
            content: content, structuredContent: Optional(.object(structured)),
            isError: ran.failedToRun || Self.couldNotRun(result.status))
    }

    private final class WeakServer: Sendable {
        weak let server: Server?
        init(_ server: Server) { self.server = server }
    }

    /// Whether a status means the server could not carry the call out (as opposed to the
    /// program failing, which the result reports).
    static func couldNotRun(_ status: ExecutionResult.Status) -> Bool {
        switch status {
        case .invalidInput, .busy, .cancelled, .internalError: true
        case .ok, .exited, .trapped, .timedOut, .outOfFuel, .memoryLimit, .outputLimit: false
        }
    }

    /// A call's run: its result, the workspace it ran in and what that held before.
    private struct Ran {
        var result: ExecutionResult
        var workspace: Workspace?
        var session: SandboxSession?
        var baseline: RunFiles.Baseline
        /// The call was refused before running (a session that had ended).
        var failedToRun = false
    }

    private func runStateless(_ plan: ExecuteCodePlan, progress: ExecutionProgress?, reporter: ProgressReporter?)
        async throws -> Ran
    {
        var request = ExecutionRequest(plan.input)
        request.arguments = plan.arguments
        request.environment = plan.environment
        request.stdin = plan.stdin
        request.limits = plan.limits
        request.progress = progress
        if !plan.files.isEmpty || plan.language == .python {
            request.workspace = try await Self.workspace(files: plan.files)
        }
        let result = await counted(progress, reporter) { [sandbox, request] in await sandbox.execute(request) }
        return Ran(result: result, workspace: request.workspace, baseline: .inputs(plan.files))
    }

    /// Runs the call in the client's session `name`, opening it on first use.
    private func runInSession(
        named name: String, plan: ExecuteCodePlan, sessions: ClientSessions, progress: ExecutionProgress?,
        reporter: ProgressReporter?, budget: RunBudget?
    ) async throws -> Ran {
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
            lookup = try await sessions.session(named: name) { [sandbox, plan, owner = sessions.client] in
                let open = {
                    try await sandbox.openSession(
                        language: plan.language, limits: plan.limits, files: plan.files, owner: owner)
                }
                // An authenticated client's sessions count against its own quota.
                guard let budget else { return try await open() }
                return try await budget.openCodeSession(open)
            }
        } catch let error as SandboxError {
            switch error.kind {
            case .invalidInput: throw MCPError.invalidParams("cannot start session '\(name)': \(error.message)")
            case .busy:
                return Ran(result: ExecutionResult(status: .busy, message: error.message), baseline: .inputs([:]))
            case .internalError: throw MCPError.internalError(error.message)
            }
        }
        switch lookup {
        case .gone(let session):
            var result = await session.run(code)
            result.message =
                (result.message ?? "the session is closed")
                + ": call execute_code again with this session_id to start a new, empty session"
            return Ran(result: result, baseline: .inputs([:]), failedToRun: true)
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
            let stamps = opened ? nil : await sessions.stamps(of: session)
            let result = await counted(progress, reporter) {
                await session.run(
                    code, stdin: plan.stdin, timeout: plan.limits.timeout, fuel: plan.limits.fuel, progress: progress)
            }
            return Ran(
                result: result, workspace: session.workspace, session: session,
                baseline: stamps.map { .stamps($0) } ?? .inputs(plan.files))
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

    /// Runs a call, counted in the server's statistics, reporting progress while it runs when
    /// the client asked for it.
    private func counted(
        _ progress: ExecutionProgress?, _ reporter: ProgressReporter?,
        _ run: @Sendable () async -> ExecutionResult
    ) async -> ExecutionResult {
        stats.withLock { $0.inFlight += 1 }
        let result: ExecutionResult
        if let reporter, let progress {
            result = await reporter.reporting(progress, while: run)
        } else {
            result = await run()
        }
        stats.withLock {
            $0.inFlight -= 1
            $0.byStatus[result.status.rawValue, default: 0] += 1
            $0.totalDurationMs += result.duration.millisecondsValue
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
                "age_seconds": .double(info.age.secondsValue), "idle_seconds": .double(info.idle.secondsValue),
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
        guard let value = given[ExecuteCodeField.sessionID.name]?.given else {
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
        guard case .object(let object) = try ValueEncoder().encode(value) else {
            throw MCPError.internalError("\(type(of: value)) is not a JSON object")
        }
        return object
    }

    private static func jsonText(_ value: Value) -> String {
        var out: [UInt8] = []
        JSONText.write(value, to: &out)
        return String(decoding: out, as: UTF8.self)
    }
}
