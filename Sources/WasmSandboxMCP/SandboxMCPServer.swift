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
        self.configuration = configuration
        self.sandbox = try Sandbox(configuration: sandboxConfiguration)
    }

    /// Starts an MCP server with the tools registered on `transport` and returns it.
    ///
    /// Until the client's `initialize` request has been answered, tool requests get a JSON-RPC
    /// `invalid request` error: the SDK's lenient mode would run them, and its strict mode drops
    /// them without any response.
    public func startServer(transport: any Transport, logger: Logger? = nil) async throws -> Server {
        let server = Server(
            name: "wasm-sandbox", version: "0.1.0", title: "WebAssembly sandbox",
            instructions: "Use execute_code to run untrusted JavaScript, Python or WebAssembly safely.",
            capabilities: .init(tools: .init(listChanged: false)))
        let initialized = Atomic(false)
        let notInitialized = MCPError.invalidRequest("the session is not initialized: send 'initialize' first")
        await server.withMethodHandler(ListTools.self) { _ in
            guard initialized.load(ordering: .acquiring) else { throw notInitialized }
            return ListTools.Result(tools: ToolDefinitions.all)
        }
        await server.withMethodHandler(CallTool.self) { [self] params in
            guard initialized.load(ordering: .acquiring) else { throw notInitialized }
            return try await call(params.name, arguments: params.arguments)
        }
        try await server.start(transport: transport) { _, _ in initialized.store(true, ordering: .releasing) }
        return server
    }

    /// Runs one tool call.
    public func call(_ name: String, arguments: [String: Value]?) async throws -> CallTool.Result {
        switch name {
        case ToolDefinitions.executeCode.name: return try await executeCode(arguments)
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

    private func executeCode(_ raw: [String: Value]?) async throws -> CallTool.Result {
        let plan = try ExecuteCodePlan(raw, configuration: configuration)
        var request = ExecutionRequest(plan.input)
        request.arguments = plan.arguments
        request.environment = plan.environment
        request.stdin = plan.stdin
        request.limits = plan.limits
        if !plan.files.isEmpty || plan.language == .python {
            do { request.workspace = try await Workspace.create(files: plan.files) } catch {
                switch error.kind {
                case .invalidInput: throw MCPError.invalidParams("'files': \(error.message)")
                case .internalError, .busy: throw MCPError.internalError(error.message)
                }
            }
        }
        // Removal walks the whole tree: on a sandbox thread, never on the cooperative pool.
        defer { request.workspace?.removeInBackground() }

        stats.withLock { $0.inFlight += 1 }
        let result = await sandbox.execute(request)
        stats.withLock {
            $0.inFlight -= 1
            $0.byStatus[result.status.rawValue, default: 0] += 1
            $0.totalDurationMs +=
                Double(result.duration.components.attoseconds) / 1e15
                + Double(result.duration.components.seconds) * 1000
        }

        var structured = try Self.jsonObject(result)
        var limits = plan.applied
        limits["clamped"] = .array(plan.clamped.map { .string($0) })
        structured["limits"] = .object(limits)
        var omitted = 0
        if let workspace = request.workspace {
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
