import Foundation
import MCP
import MetricsTestKit
import Testing
import WasmSandbox
import WasmSandboxMCP

#if canImport(Glibc)
    import Glibc
#endif

/// The `invalid params` message of a failed call, or a description of any other outcome.
/// The message of a refused call: argument errors are results with `isError: true` whose text
/// says what was wrong (SEP-1303), so that a model sees it; never protocol errors.
func invalidParamsMessage(_ client: Client, _ arguments: [String: Value]) async -> String {
    do {
        let result = try await execute(client, arguments)
        return refusalMessage(result) ?? "no error: \(text(result))"
    } catch {
        return "a protocol error, not a result: \(error)"
    }
}

/// The problem an `isError` result names after its `invalid arguments:` prefix, or `nil`.
func refusalMessage(_ result: CallTool.Result) -> String? {
    let prefix = "status: invalid_input: invalid arguments: "
    let body = text(result)
    guard result.isError == true, body.hasPrefix(prefix) else { return nil }
    #expect(result.structuredContent?.objectValue?["status"] == "invalid_input")
    return String(body.dropFirst(prefix.count))
}

@Suite("execute_code arguments from an untrusted client")
struct MCPArgumentTests {
    static let js: [String: Value] = ["language": "javascript", "code": "console.log('ran')"]

    static func with(_ extra: [String: Value]) -> [String: Value] { js.merging(extra) { _, new in new } }

    /// Each of these used to trap in `Int(Double)` (killing the whole server) or pass a wrapped
    /// value on; now each is a clear error naming the argument, and the server keeps serving.
    @Test(
        arguments: [
            (["timeout_ms": .double(1e300)], "'timeout_ms' must be an integer from 1 to 86400000, got 1e+300"),
            (["timeout_ms": .double(1e19)], "'timeout_ms' must be an integer from 1 to 86400000, got 1e+19"),
            (["timeout_ms": .double(-1e300)], "'timeout_ms' must be an integer from 1 to 86400000, got -1e+300"),
            (["timeout_ms": .double(1.5)], "'timeout_ms' must be an integer from 1 to 86400000, got 1.5"),
            (["timeout_ms": -5], "'timeout_ms' must be an integer from 1 to 86400000, got -5"),
            (["timeout_ms": 0], "'timeout_ms' must be an integer from 1 to 86400000, got 0"),
            (["timeout_ms": 86_400_001], "'timeout_ms' must be an integer from 1 to 86400000, got 86400001"),
            (["timeout_ms": true], "'timeout_ms' must be an integer from 1 to 86400000, got true"),
            (["memory_mb": .double(1e300)], "'memory_mb' must be an integer from 1 to 4096, got 1e+300"),
            (["memory_mb": 99_999_999_999_999], "'memory_mb' must be an integer from 1 to 4096, got 99999999999999"),
            (["memory_mb": "lots"], "'memory_mb' must be an integer from 1 to 4096, got \"lots\""),
            (["fuel": .double(1e19)], "'fuel' must be an integer from 1 to 9007199254740992, got 1e+19"),
            (["fuel": -1], "'fuel' must be an integer from 1 to 9007199254740992, got -1"),
            (["fuel": .double(2.5)], "'fuel' must be an integer from 1 to 9007199254740992, got 2.5"),
        ] as [([String: Value], String)])
    func numericArgumentsOutOfRangeAreErrorsNotTraps(extra: [String: Value], message: String) async throws {
        let client = try await connectedClient()
        #expect(await invalidParamsMessage(client, Self.with(extra)) == message)
        let after = try await execute(client, Self.js)
        #expect(after.structuredContent?.objectValue?["stdout"] == "ran\n")
    }

    @Test func integralDoublesAreIntegers() async throws {
        let client = try await connectedClient()
        // 60 s, the suite server's maximum: a short timeout could end the run on a loaded machine.
        let result = try await execute(client, Self.with(["timeout_ms": .double(60_000), "fuel": .double(1e9)]))
        #expect(result.structuredContent?.objectValue?["status"] == "ok", "\(text(result))")
        #expect(result.structuredContent?.objectValue?["stdout"] == "ran\n")
        let limits = result.structuredContent?.objectValue?["limits"]?.objectValue
        #expect(limits?["timeout_ms"] == 60_000)
        #expect(limits?["fuel"] == 1_000_000_000)
    }

    @Test(
        arguments: [
            (["args": 5], "'args' must be an array of strings"),
            (["args": ["a", 5]], "'args[1]' must be a string"),
            (["env": ["A": "b"]], "'env' must be an array of {name, value} string pairs"),
            (["env": [["name": "A", "value": 1]]], "'env[0]' must be an object {name, value} of two strings"),
            (["env": [["name": "A"]]], "'env[0]' must be an object {name, value} of two strings"),
            (
                ["env": [["name": "A", "value": "1", "extra": "x"]]],
                "'env[0]' must be an object {name, value} of two strings"
            ),
            (
                ["env": [["name": "A=B", "value": "1"]]],
                "'env[0].name' must be a non-empty name without '=' (and no NUL in name or value)"
            ),
            (
                ["env": [["name": "A", "value": "1"], ["name": "A", "value": "2"]]],
                "'env[1]' repeats the variable 'A'"
            ),
            (["stdin": 7], "'stdin' must be a string"),
            (["files": 5], "'files' must be an array of {name, text} or {name, base64}"),
            (["files": [5]], "'files[0]': 'files' must be an array of {name, text} or {name, base64}"),
            (["files": [["name": 3, "text": "x"]]], "'files[0]' needs a string 'name'"),
            (["files": [["name": "a"]]], "'files[0]' needs 'text' or 'base64'"),
            (["files": [["name": "a", "text": 5]]], "'files[0].text' must be a string"),
            (["files": [["name": "a", "base64": 5]]], "'files[0].base64' must be a string"),
            (["files": [["name": "a", "base64": "!!!!"]]], "'files[0].base64' is not valid base64"),
            (
                ["files": [["name": "a", "text": "x", "base64": "eA=="]]],
                "'files[0]' needs 'text' or 'base64', not both"
            ),
            (["files": [["name": "a", "text": "x", "mode": 7]]], "'files[0]' has an unknown field 'mode'"),
            (["files": [["name": "a", "text": "x"], ["name": "a", "text": "y"]]], "'files[1].name' repeats 'a'"),
            (
                ["files": [["name": "../escape", "text": "x"]]],
                "'files': invalid workspace file name '../escape': use a relative path without '..'"
            ),
            (
                ["language": "wasm", "code": "!!!!"],
                "'code' is not valid base64 (wasm modules are sent base64-encoded)"
            ),
            (
                ["language": "wasm", "code": "AGFzbQ=x"],
                "'code' is not valid base64 (wasm modules are sent base64-encoded)"
            ),
            (["language": "wasm", "code": ""], "'code' is empty: send the wasm module base64-encoded"),
        ] as [([String: Value], String)])
    func wrongTypesNameTheArgument(extra: [String: Value], message: String) async throws {
        let client = try await connectedClient()
        #expect(await invalidParamsMessage(client, Self.with(extra)) == message)
        let after = try await execute(client, Self.js)
        #expect(after.structuredContent?.objectValue?["stdout"] == "ran\n")
    }

    @Test func base64MayHaveLineBreaksAndNoPadding() async throws {
        let client = try await connectedClient()
        // (module (memory (export "memory") 1) (func (export "_start")))
        let module: [UInt8] = [
            0, 97, 115, 109, 1, 0, 0, 0, 1, 4, 1, 96, 0, 0, 3, 2, 1, 0, 5, 3, 1, 0, 1, 7, 19, 2, 6, 109, 101, 109, 111,
            114, 121, 2, 0, 6, 95, 115, 116, 97, 114, 116, 0, 0, 10, 4, 1, 2, 0, 11,
        ]
        let encoded = Data(module).base64EncodedString(options: [.lineLength64Characters, .endLineWithLineFeed])
        #expect(encoded.contains("\n"))
        let result = try await execute(client, ["language": "wasm", "code": .string(encoded)])
        #expect(result.structuredContent?.objectValue?["status"] == "ok", "\(text(result))")
        let unpadded = try await execute(
            client,
            [
                "language": "python", "code": "print(open('/workspace/a.bin').read())",
                "files": [["name": "a.bin", "base64": "aGk"]],
            ])
        #expect(unpadded.structuredContent?.objectValue?["stdout"] == "hi\n", "\(text(unpadded))")
    }

    @Test func tooManyInputFilesAreRefusedBeforeAnyIsWritten() async throws {
        let client = try await connectedClient()
        let files: [Value] = (0...Workspace.maxInputFiles).map { ["name": .string("f\($0)"), "base64": "AA=="] }
        #expect(
            await invalidParamsMessage(client, Self.with(["files": .array(files)]))
                == "'files' has 1001 entries, above the limit of 1000")
    }

    @Test func inputFilesAboveTheTotalSizeAreRefused() async throws {
        let client = try await connectedClient()
        let half = String(repeating: "x", count: Workspace.maxInputBytes / 2)
        let files: Value = [["name": "a", "text": .string(half)], ["name": "b", "text": .string(half + "x")]]
        #expect(
            await invalidParamsMessage(client, Self.with(["files": files]))
                == "'files' up to files[1] exceed the limit of 67108864 bytes in all")
    }

    /// 1,033 workspace files once made a 90 MB result; now contents stop at the inline budget
    /// and the rest are listed with their size, and the result says so.
    @Test func filesReturnedInlineStopAtTheTotalBudget() async throws {
        let client = try await connectedClient()
        let result = try await execute(
            client,
            [
                "language": "python",
                "code": "for i in range(40):\n    open(f'/workspace/f{i:02}.txt', 'w').write('x' * 65536)",
            ])
        let structured = result.structuredContent?.objectValue
        let files = structured?["files"]?.arrayValue ?? []
        #expect(files.count == 40)
        #expect(files.filter { $0.objectValue?["text"] != nil }.count == 16)
        let last = files.last?.objectValue
        #expect(last?["path"] == "f39.txt" && last?["size"] == 65536 && last?["text"] == nil)
        #expect(structured?["files_omitted"] == 24)
        #expect(text(result).contains("- f39.txt (65536 bytes, text/plain) wasm-sandbox://runs/"))
    }

    /// The SDK's lenient server would run a tool call sent before `initialize`; its strict mode
    /// would drop it without a response. Either way the client must get an error response.
    @Test func toolCallBeforeInitializeGetsAnErrorResponse() async throws {
        let (clientTransport, serverTransport) = await InMemoryTransport.createConnectedPair()
        _ = try await service.startServer(transport: serverTransport)
        try await clientTransport.connect()
        let call = #"{"jsonrpc":"2.0","id":7,"method":"tools/call","params":{"name":"sandbox_health","arguments":{}}}"#
        try await clientTransport.send(Data(call.utf8))
        var iterator = await clientTransport.receive().makeAsyncIterator()
        let reply = try await iterator.next()
        let object = try JSONSerialization.jsonObject(with: reply ?? Data()) as? [String: Any]
        #expect(object?["id"] as? Int == 7)
        let error = object?["error"] as? [String: Any]
        #expect(error?["code"] as? Int == -32600)
        #expect(
            error?["message"] as? String == "Invalid Request: the session is not initialized: send 'initialize' first")
        #expect(object?["result"] == nil)
    }
}

@Suite("MCP server configuration bounds")
struct MCPConfigurationBoundsTests {
    @Test(
        arguments: [
            (
                "MCP_SANDBOX_MAX_MEMORY_MB", "99999999999999",
                "MCP_SANDBOX_MAX_MEMORY_MB must be an integer from 1 to 4096, got '99999999999999'"
            ),
            (
                "MCP_SANDBOX_MAX_TIMEOUT_MS", "1e300",
                "MCP_SANDBOX_MAX_TIMEOUT_MS must be an integer from 1 to 86400000, got '1e300'"
            ),
            (
                "MCP_SANDBOX_MAX_OUTPUT_KB", "99999999999999999999",
                "MCP_SANDBOX_MAX_OUTPUT_KB must be an integer from 1 to 1048576, got '99999999999999999999'"
            ),
            (
                "MCP_SANDBOX_MAX_FUEL", "-1",
                "MCP_SANDBOX_MAX_FUEL must be an integer from 1 to 9007199254740992, got '-1'"
            ),
            (
                "MCP_SANDBOX_MAX_CONCURRENT", "1000000",
                "MCP_SANDBOX_MAX_CONCURRENT must be an integer from 1 to 1024, got '1000000'"
            ),
            ("MCP_SANDBOX_MAX_SESSIONS", "0", "MCP_SANDBOX_MAX_SESSIONS must be an integer from 1 to 1000000, got '0'"),
            (
                "MCP_SANDBOX_HTTP_IDLE_TIMEOUT_SECONDS", "86401",
                "MCP_SANDBOX_HTTP_IDLE_TIMEOUT_SECONDS must be an integer from 1 to 86400, got '86401'"
            ),
            (
                "MCP_SANDBOX_QUOTA_CALLS_PER_MINUTE", "0",
                "MCP_SANDBOX_QUOTA_CALLS_PER_MINUTE must be an integer from 1 to 1000000000, got '0'"
            ),
            ("MCP_SANDBOX_AUDIT_CODE", "yes", "MCP_SANDBOX_AUDIT_CODE must be 1, true, 0 or false, got 'yes'"),
            ("MCP_SANDBOX_BACKEND", "v8", "MCP_SANDBOX_BACKEND: unknown backend 'v8': use wasmtime or wasmkit"),
            (
                "MCP_SANDBOX_PUBLIC_URL", "ftp://x\" y",
                "the public URL must be an http or https URL, got 'ftp://x\" y'"
            ),
        ])
    func outOfRangeVariablesAreErrors(name: String, value: String, message: String) {
        #expect {
            try MCPServerConfiguration(environment: [name: value])
        } throws: { String(describing: $0) == message }
    }

    @Test func fieldsSetInCodeAreCheckedToo() {
        var configuration = MCPServerConfiguration()
        configuration.maxMemoryMb = 1 << 40
        #expect {
            try SandboxMCPServer(configuration: configuration)
        } throws: { String(describing: $0) == "max_memory_mb must be an integer from 1 to 4096, got 1099511627776" }
    }

    @Test func theBackendVariableChoosesTheEngineThatHealthAndMetricsReport() async throws {
        let configuration = try MCPServerConfiguration(environment: ["MCP_SANDBOX_BACKEND": " WasmKit "])
        #expect(configuration.backend == .wasmkit)
        #expect(try MCPServerConfiguration(environment: [:]).backend == .wasmtime)
        let metrics = TestMetrics()
        var sandbox = SandboxConfiguration()
        sandbox.metricsFactory = metrics
        let server = try SandboxMCPServer(configuration: configuration, sandbox: sandbox)
        let report = await server.sandbox.health()
        #expect(report.healthy, "\(report.message)")
        #expect(report.backend == "wasmkit")
        let info = try metrics.expectGauge("wasm_sandbox_backend_info", [("backend", "wasmkit")])
        #expect(info.lastValue == 1)
        // Sessions need an instance kept between calls, which only Wasmtime offers: a clear refusal.
        await #expect {
            try await server.sandbox.openSession(language: .javascript)
        } throws: { ($0 as? SandboxError)?.message.contains("code sessions need the wasmtime backend") == true }
    }

    @Test func readsTheNewVariables() throws {
        let configuration = try MCPServerConfiguration(environment: [
            "MCP_SANDBOX_MAX_SESSIONS": "8", "MCP_SANDBOX_HTTP_IDLE_TIMEOUT_SECONDS": "5",
            "MCP_SANDBOX_MAX_INLINE_TOTAL_BYTES": "0", "MCP_SANDBOX_HTTP_MAX_CONNECTIONS": "9",
        ])
        #expect(configuration.maxSessions == 8)
        #expect(configuration.httpIdleTimeoutSeconds == 5)
        #expect(configuration.maxInlineTotalBytes == 0)
        #expect(configuration.httpMaxConnections == 9)
    }

    @Test func readsTheAccessVariables() throws {
        let configuration = try MCPServerConfiguration(environment: [
            "MCP_SANDBOX_AUTH_TOKENS": "/etc/tokens", "MCP_SANDBOX_METRICS_TOKENS": "/etc/scrapers",
            "MCP_SANDBOX_PUBLIC_URL": "https://sandbox.example.com", "MCP_SANDBOX_AUDIT_CODE": "1",
            "MCP_SANDBOX_QUOTA_CONCURRENT_RUNS": "2", "MCP_SANDBOX_QUOTA_CALLS_PER_MINUTE": "50",
            "MCP_SANDBOX_QUOTA_CPU_SECONDS_PER_MINUTE": "9", "MCP_SANDBOX_QUOTA_WINDOW_SECONDS": "30",
        ])
        #expect(configuration.authTokensFile == "/etc/tokens")
        #expect(configuration.metricsTokensFile == "/etc/scrapers")
        #expect(configuration.publicURL == "https://sandbox.example.com")
        #expect(configuration.auditCode)
        #expect(configuration.quota.concurrentRuns == 2 && configuration.quota.callsPerMinute == 50)
        #expect(configuration.quota.cpuSecondsPerMinute == 9 && configuration.quotaWindowSeconds == 30)
        let defaults = MCPServerConfiguration()
        #expect(defaults.authTokensFile == nil && !defaults.auditCode && !defaults.allowUnauthenticated)
        #expect(defaults.quota == QuotaLimits())
        #expect(QuotaLimits().concurrentRuns == 4 && QuotaLimits().callsPerMinute == 300)
        #expect(QuotaLimits().cpuSecondsPerMinute == 60 && defaults.quotaWindowSeconds == 60)
    }

    /// A missing or unreadable tokens file stops the HTTP server before it serves.
    @Test func anUnusableTokensFileIsAnErrorNamingIt() throws {
        var configuration = MCPServerConfiguration()
        configuration.authTokensFile = "/nonexistent/tokens"
        #expect {
            try MCPHTTPServer(
                service: try SandboxMCPServer(configuration: configuration), host: "127.0.0.1", port: 0,
                prometheus: nil, logger: .init(label: "t"))
        } throws: { "\($0)".contains("cannot read the tokens file '/nonexistent/tokens'") }
        // A directory, a FIFO (which would block a read until a writer came), binary bytes.
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("tokens-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        let fifo = directory.appendingPathComponent("fifo").path
        #expect(mkfifo(fifo, 0o600) == 0)
        let binary = directory.appendingPathComponent("binary").path
        try Data([0x61, 0x20, 0x00, 0xFF, 0x0A]).write(to: URL(fileURLWithPath: binary))
        // A file past 1 MiB is refused before it is read whole.
        let large = directory.appendingPathComponent("large").path
        try Data(count: AuthTokens.maxFileBytes + 1).write(to: URL(fileURLWithPath: large))
        for (path, message) in [
            (directory.path, "is not a regular file"), (fifo, "is not a regular file"), (binary, "is not UTF-8 text"),
            (large, "is larger than 1048576 bytes"),
        ] {
            configuration.authTokensFile = path
            #expect {
                try MCPHTTPServer(
                    service: try SandboxMCPServer(configuration: configuration), host: "127.0.0.1", port: 0,
                    prometheus: nil, logger: .init(label: "t"))
            } throws: { "\($0)".contains(message) }
        }
    }
}
