import Foundation
import MCP
import Testing
import WasmSandboxMCP

@testable import WasmSandbox

/// One server for the suite, as a deployment would share one.
let service: SandboxMCPServer = {
    var configuration = MCPServerConfiguration()
    // Timing is not what most tests check: a generous default holds on a loaded machine.
    configuration.defaultTimeoutMs = 60_000
    configuration.maxTimeoutMs = 60_000
    configuration.maxCodeBytes = 100_000
    return try! SandboxMCPServer(configuration: configuration)
}()

/// A client connected to a fresh server session through the SDK's in-memory transport.
func connectedClient(to service: SandboxMCPServer = service) async throws -> Client {
    let (clientTransport, serverTransport) = await InMemoryTransport.createConnectedPair()
    _ = try await service.startServer(transport: serverTransport)
    let client = Client(name: "wasm-sandbox-tests", version: "1.0")
    _ = try await client.connect(transport: clientTransport)
    return client
}

func execute(_ client: Client, _ arguments: [String: Value]) async throws -> CallTool.Result {
    let context: RequestContext<CallTool.Result> = try await client.callTool(name: "execute_code", arguments: arguments)
    return try await context.value
}

func text(_ result: CallTool.Result) -> String {
    result.content.compactMap { if case .text(let text, _, _) = $0 { text } else { nil } }.joined()
}

@Suite("MCP server through the Swift SDK's client")
struct MCPServerTests {
    @Test func listsItsToolsWithSchemas() async throws {
        let client = try await connectedClient()
        let (tools, _) = try await client.listTools()
        #expect(
            tools.map(\.name) == [
                "execute_code", "sandbox_health", "sandbox_metrics", "list_sessions", "reset_session", "close_session",
            ])
        #expect(tools.allSatisfy { $0.outputSchema != nil })
        #expect(tools[0].inputSchema.objectValue?["required"] == .array(["language", "code"]))
    }

    @Test(arguments: [
        ("javascript", "console.log(6 * 7)", "42\n"),
        ("python", "print(6 * 7)", "42\n"),
        ("wat", Sandbox.canaryWAT, "ok\n"),
    ])
    func executesEachLanguage(language: String, code: String, stdout: String) async throws {
        let client = try await connectedClient()
        let result = try await execute(client, ["language": .string(language), "code": .string(code)])
        #expect(result.isError == false)
        #expect(result.structuredContent?.objectValue?["status"] == "ok")
        #expect(result.structuredContent?.objectValue?["stdout"] == .string(stdout))
        #expect(text(result).contains("status: ok"))
    }

    @Test func executesABase64WasmModule() async throws {
        let client = try await connectedClient()
        // (module (memory (export "memory") 1) (func (export "_start")))
        let module: [UInt8] = [
            0, 97, 115, 109, 1, 0, 0, 0, 1, 4, 1, 96, 0, 0, 3, 2, 1, 0, 5, 3, 1, 0, 1, 7, 19, 2, 6, 109, 101, 109, 111,
            114, 121, 2, 0, 6, 95, 115, 116, 97, 114, 116, 0, 0, 10, 4, 1, 2, 0, 11,
        ]
        let result = try await execute(
            client, ["language": "wasm", "code": .string(Data(module).base64EncodedString())])
        #expect(result.structuredContent?.objectValue?["status"] == "ok", "\(text(result))")
    }

    @Test func failingRunIsANormalResultNotAnError() async throws {
        let client = try await connectedClient()
        let thrown = try await execute(client, ["language": "python", "code": "raise ValueError('nope')"])
        #expect(thrown.isError == false)
        #expect(thrown.structuredContent?.objectValue?["status"] == "exited")
        #expect(text(thrown).contains("ValueError: nope"))
        let slow = try await execute(client, ["language": "javascript", "code": "for (;;) {}", "timeout_ms": 200])
        #expect(slow.isError == false)
        #expect(slow.structuredContent?.objectValue?["status"] == "timed_out")
        #expect(text(slow).contains("timed_out"))
    }

    @Test func limitsAboveTheMaximaAreClampedAndReported() async throws {
        let client = try await connectedClient()
        let result = try await execute(
            client, ["language": "javascript", "code": "1", "timeout_ms": 50_000_000, "memory_mb": 64])
        let limits = result.structuredContent?.objectValue?["limits"]?.objectValue
        #expect(limits?["timeout_ms"] == 60_000)
        #expect(limits?["memory_mb"] == 64)
        #expect(limits?["clamped"] == .array(["timeout_ms"]))
        #expect(text(result).contains("clamped to the server's maxima: timeout_ms"))
    }

    @Test func filesGoInAndComeBack() async throws {
        let client = try await connectedClient()
        let result = try await execute(
            client,
            [
                "language": "python",
                "code": "data = open('/workspace/in.txt').read()\nopen('/workspace/out.txt', 'w').write(data.upper())",
                "files": [["name": "in.txt", "text": "hello"]],
            ])
        #expect(result.isError == false, "\(text(result))")
        let files = result.structuredContent?.objectValue?["files"]?.arrayValue ?? []
        let out = try #require(files.first?.objectValue)
        #expect(files.count == 1, "the unchanged input file is not sent back: \(files)")
        #expect(
            out["path"] == "out.txt" && out["size"] == 5 && out["text"] == "HELLO" && out["mime_type"] == "text/plain")
    }

    @Test func aPythonFigureComesBackAsAPNGFile() async throws {
        let client = try await connectedClient()
        let result = try await execute(
            client,
            [
                "language": "python",
                "code":
                    "import matplotlib.pyplot as plt\nplt.figure(figsize=(2, 1), dpi=40)\nplt.plot([1, 3, 2])\nplt.show()",
            ])
        #expect(result.isError == false, "\(text(result))")
        let files = result.structuredContent?.objectValue?["files"]?.arrayValue ?? []
        let figure = try #require(files.first?.objectValue, "\(files)")
        #expect(figure["path"] == "figure-1.png")
        let png = try #require(figure["base64"]?.stringValue.flatMap { Data(base64Encoded: $0) })
        #expect(png.starts(with: [0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A]))
        #expect(figure["size"] == .int(png.count))
    }

    @Test(
        arguments: [
            (["code": "1"], "missing argument 'language'"),
            (["language": "javascript"], "missing argument 'code'"),
            (["language": 3, "code": "1"], "'language' must be a string"),
            (["language": "cobol", "code": "1"], "unknown language 'cobol'"),
            (["language": "wasm", "code": "!!not base64!!"], "not valid base64"),
            (
                ["language": "javascript", "code": "1", "timeout_ms": -5],
                "'timeout_ms' must be an integer from 1 to 86400000, got -5"
            ),
            (["language": "javascript", "code": "1", "memory_mb": "lots"], "'memory_mb' must be an integer"),
            (
                ["language": "javascript", "code": .string(String(repeating: "x", count: 100_001))],
                "above the server's limit"
            ),
            (["language": "javascript", "code": "1", "files": [["text": "x"]]], "needs a string 'name'"),
            (["language": "javascript", "code": "1", "bogus": 1], "unknown argument 'bogus'"),
        ] as [([String: Value], String)])
    func badArgumentsAreClearErrorsAndTheServerKeepsServing(arguments: [String: Value], problem: String) async throws {
        let client = try await connectedClient()
        let refusal = await invalidParamsMessage(client, arguments)
        #expect(refusal.contains(problem), "\(refusal)")
        let after = try await execute(client, ["language": "javascript", "code": "console.log('still serving')"])
        #expect(after.structuredContent?.objectValue?["stdout"] == "still serving\n")
    }

    @Test func unknownToolIsAClearError() async throws {
        let client = try await connectedClient()
        await #expect {
            let context: RequestContext<CallTool.Result> = try await client.callTool(name: "rm_rf", arguments: [:])
            _ = try await context.value
        } throws: { error in
            String(describing: error).contains("unknown tool 'rm_rf'")
        }
    }

    @Test func cancellingACallStopsItsRun() async throws {
        // A server of its own, so that its counters see only this test's call.
        let client = try await connectedClient(to: try SandboxMCPServer())
        // Compile the engine first: compilation cannot be interrupted, only the run can.
        _ = try await execute(client, ["language": "javascript", "code": "1"])
        let context: RequestContext<CallTool.Result> = try await client.callTool(
            name: "execute_code", arguments: ["language": "javascript", "code": "for (;;) {}", "timeout_ms": 20_000])
        #expect(try await eventually { (try? await metrics(client)["in_flight"]?.intValue) == 1 })
        try await client.cancelRequest(context.requestID, reason: "test")
        // The run ends as cancelled, long before its 20 s timeout (the status says which).
        #expect(try await eventually { (try? await metrics(client)["in_flight"]?.intValue) == 0 })
        let statuses = try await metrics(client)["by_status"]?.objectValue ?? [:]
        #expect(statuses == ["ok": 1, "cancelled": 1])
    }

    @Test func healthAndMetricsTools() async throws {
        let client = try await connectedClient()
        let health: RequestContext<CallTool.Result> = try await client.callTool(name: "sandbox_health", arguments: [:])
        let report = try await health.value
        #expect(report.isError == false)
        #expect(report.structuredContent?.objectValue?["healthy"] == true)
        let snapshot = try await metrics(client)
        #expect(snapshot["limits"]?.objectValue?["max_timeout_ms"] == 60_000)
    }
}

/// The server's `sandbox_metrics` snapshot.
func metrics(_ client: Client) async throws -> [String: Value] {
    let context: RequestContext<CallTool.Result> = try await client.callTool(name: "sandbox_metrics", arguments: [:])
    return try await context.value.structuredContent?.objectValue ?? [:]
}

@Suite("MCP server under load")
struct MCPLoadTests {
    /// One slot and one queue place: with both taken (seen in the sandbox's own counters, not
    /// guessed from timing), every further call gets `busy` at once, and the two held calls
    /// end as cancelled when the client gives up on them.
    @Test func callsBeyondCapacityGetBusyNotAHang() async throws {
        var configuration = MCPServerConfiguration()
        configuration.maxConcurrentExecutions = 1
        configuration.maxQueuedExecutions = 1
        let small = try SandboxMCPServer(configuration: configuration)
        let client = try await connectedClient(to: small)
        _ = try await execute(client, ["language": "javascript", "code": "1"])  // compiles the engine
        let slow: [String: Value] = ["language": "javascript", "code": "for (;;) {}", "timeout_ms": 600_000]
        var held: [RequestContext<CallTool.Result>] = []
        for _ in 0..<2 { held.append(try await client.callTool(name: "execute_code", arguments: slow)) }
        #expect(
            try await eventually { small.sandbox.activeExecutions == 1 && small.sandbox.queuedExecutions == 1 })
        for _ in 0..<3 {
            let refused = try await execute(client, slow)
            #expect(refused.structuredContent?.objectValue?["status"] == "busy")
        }
        for context in held { try await client.cancelRequest(context.requestID, reason: "test") }
        #expect(try await eventually { small.sandbox.activeExecutions == 0 && small.sandbox.queuedExecutions == 0 })
        #expect(
            try await eventually {
                (try? await metrics(client)["by_status"]?.objectValue) == ["ok": 1, "busy": 3, "cancelled": 2]
            })
    }
}
