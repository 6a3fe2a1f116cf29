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

    public init(configuration: MCPServerConfiguration = MCPServerConfiguration()) throws {
        try configuration.validate()
        var sandboxConfiguration = SandboxConfiguration()
        sandboxConfiguration.maxConcurrentExecutions = configuration.maxConcurrentExecutions
        sandboxConfiguration.maxQueuedExecutions = configuration.maxQueuedExecutions
        sandboxConfiguration.maxMemoryBytes = max(sandboxConfiguration.maxMemoryBytes, configuration.maxMemoryMb << 20)
        sandboxConfiguration.maxSourceBytes = max(sandboxConfiguration.maxSourceBytes, configuration.maxCodeBytes)
        self.configuration = configuration
        self.sandbox = try Sandbox(configuration: sandboxConfiguration)
    }

    /// An MCP server with the tools registered, ready to `start(transport:)`.
    public func makeServer(logger: Logger? = nil) async -> Server {
        let server = Server(
            name: "wasm-sandbox", version: "0.1.0", title: "WebAssembly sandbox",
            instructions: "Use execute_code to run untrusted JavaScript, Python or WebAssembly safely.",
            capabilities: .init(tools: .init(listChanged: false)))
        await server.withMethodHandler(ListTools.self) { _ in ListTools.Result(tools: ToolDefinitions.all) }
        await server.withMethodHandler(CallTool.self) { [self] params in
            try await call(params.name, arguments: params.arguments)
        }
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
        let arguments = try ExecuteCodeArguments(raw, configuration: configuration)
        var request = ExecutionRequest(arguments.input)
        request.arguments = arguments.arguments
        request.environment = arguments.environment
        request.stdin = arguments.stdin
        request.limits = arguments.limits
        if !arguments.files.isEmpty || arguments.language == "python" {
            do { request.workspace = try Workspace(files: arguments.files) } catch {
                throw MCPError.invalidParams(error.message)
            }
        }
        defer { request.workspace?.remove() }

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
        var limits = arguments.applied
        limits["clamped"] = .array(arguments.clamped.map { .string($0) })
        structured["limits"] = .object(limits)
        if let workspace = request.workspace {
            structured["files"] = .array(
                (result.files ?? []).map { file in
                    var entry: [String: Value] = ["path": .string(file.path), "size": .int(file.size)]
                    if file.size <= configuration.maxInlineFileBytes, let bytes = workspace.contents(of: file.path) {
                        if let text = String(validating: bytes, as: UTF8.self) {
                            entry["text"] = .string(text)
                        } else {
                            entry["base64"] = .string(Data(bytes).base64EncodedString())
                        }
                    }
                    return .object(entry)
                })
        }
        return CallTool.Result(
            content: [.text(text: Self.summary(result, arguments: arguments), annotations: nil, _meta: nil)],
            structuredContent: Optional(.object(structured)),
            isError: result.status != .ok)
    }

    /// What a model reads: output, then one line saying how the run ended and under which limits.
    static func summary(_ result: ExecutionResult, arguments: ExecuteCodeArguments) -> String {
        var text = ""
        if !result.stdout.isEmpty {
            text += "stdout:\n\(result.stdoutText)\(result.stdoutText.hasSuffix("\n") ? "" : "\n")"
        }
        if !result.stderr.isEmpty {
            text += "stderr:\n\(result.stderrText)\(result.stderrText.hasSuffix("\n") ? "" : "\n")"
        }
        let limits = arguments.limits
        var line = "status: \(result.status.rawValue)"
        if let code = result.exitCode { line += ", exit code \(code)" }
        if let message = result.message, result.status != .ok, result.status != .exited {
            line += " — \(message.split(separator: "\n").first.map(String.init) ?? message)"
        }
        line +=
            " (limits: timeout \(limits.timeout.components.seconds * 1000 + limits.timeout.components.attoseconds / 1_000_000_000_000_000) ms, memory \(limits.memoryBytes >> 20) MiB"
        if let fuel = limits.fuel { line += ", fuel \(fuel)" }
        if !arguments.clamped.isEmpty { line += "; clamped: \(arguments.clamped.joined(separator: ", "))" }
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
