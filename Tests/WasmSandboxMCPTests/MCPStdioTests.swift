import Foundation
import MCP
import SystemPackage
import Testing
import WasmSandboxMCP

@Suite("MCP server process over stdio, with the Swift SDK's client")
struct MCPStdioTests {
    @Test func initializeListAndCallThroughTheRealBinary() async throws {
        let binary = URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent()
            .appendingPathComponent("wasm-sandbox")
        let toServer = Pipe()
        let fromServer = Pipe()
        let process = Process()
        process.executableURL = binary
        process.arguments = ["serve", "--log-level", "error"]
        // Timing is not what this test checks: a generous timeout holds on a loaded machine.
        process.environment = ProcessInfo.processInfo.environment.merging([
            "MCP_SANDBOX_DEFAULT_TIMEOUT_MS": "60000", "MCP_SANDBOX_MAX_TIMEOUT_MS": "60000",
        ]) { _, new in new }
        process.standardInput = toServer
        process.standardOutput = fromServer
        try process.run()
        defer { process.terminate() }

        let transport = StdioTransport(
            input: FileDescriptor(rawValue: fromServer.fileHandleForReading.fileDescriptor),
            output: FileDescriptor(rawValue: toServer.fileHandleForWriting.fileDescriptor))
        let client = Client(name: "stdio-test", version: "1")
        let initialized = try await client.connect(transport: transport)
        #expect(initialized.serverInfo.name == "wasm-sandbox")
        let (tools, _) = try await client.listTools()
        #expect(tools.count == 6)
        let context: RequestContext<CallTool.Result> = try await client.callTool(
            name: "execute_code", arguments: ["language": "javascript", "code": "console.log('over stdio')"])
        let result = try await context.value
        #expect(result.structuredContent?.objectValue?["status"] == "ok")
        #expect(result.structuredContent?.objectValue?["stdout"] == "over stdio\n")
        #expect(result.structuredContent?.objectValue?["limits"]?.objectValue?["timeout_ms"] == 60_000)
        await client.disconnect()
        // Closing its input ends the server.
        try toServer.fileHandleForWriting.close()
        #expect(try await eventually { !process.isRunning })
    }
}

@Suite("MCP server configuration")
struct MCPConfigurationTests {
    @Test func readsTheEnvironment() throws {
        let configuration = try MCPServerConfiguration(environment: [
            "MCP_SANDBOX_MAX_TIMEOUT_MS": "9000", "MCP_SANDBOX_DEFAULT_TIMEOUT_MS": "1000",
            "MCP_SANDBOX_MAX_MEMORY_MB": "512", "MCP_SANDBOX_MAX_FUEL": "1000000", "UNRELATED": "x",
        ])
        #expect(configuration.maxTimeoutMs == 9000)
        #expect(configuration.defaultTimeoutMs == 1000)
        #expect(configuration.maxMemoryMb == 512)
        #expect(configuration.maxFuel == 1_000_000)
    }

    @Test func rejectsBadValuesNamingTheVariable() {
        #expect {
            try MCPServerConfiguration(environment: ["MCP_SANDBOX_MAX_TIMEOUT_MS": "soon"])
        } throws: { String(describing: $0).contains("MCP_SANDBOX_MAX_TIMEOUT_MS") }
        #expect {
            try MCPServerConfiguration(environment: ["MCP_SANDBOX_DEFAULT_MEMORY_MB": "4096"])
        } throws: { String(describing: $0).contains("defaults must not exceed maxima") }
    }
}
