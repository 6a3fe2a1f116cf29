import ArgumentParser
import Foundation
import Logging
import MCP
import SystemPackage
import WasmSandbox
import WasmSandboxCLICommands
import WasmSandboxMCP

/// What the MCP server costs a client: round trips of a raw JSON-RPC client (lines over
/// stdio, POSTs on one HTTP connection) to a `wasm-sandbox serve` process, next to the same run
/// through the library and to the wasmtime CLI running the same engine as a process, all in
/// one run so that the machine's load falls on all of them.
///
/// The clients are raw on purpose: the Swift SDK's own stdio client polls its pipe every
/// 10 ms, which would be measured instead of the server.
struct MCPBenchmark: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "mcp",
        abstract: "Measure MCP round trips (ping, execute_code, large requests) over stdio and HTTP.")

    @Option(help: "Calls of each kind.")
    var calls = 500

    @Option(help: "Requests kept in flight on one stdio connection for the throughput figure.")
    var clients = 8

    @Option(help: "The wasm-sandbox executable (default: the one beside this benchmark).")
    var cli = siblingExecutable("wasm-sandbox")

    @Option(help: "The wasmtime CLI (default: .deps/wasmtime-cli/wasmtime, from scripts/setup.sh).")
    var wasmtime = WasmtimeCLI.defaultPath

    func validate() throws {
        try checkBounds(calls, "--calls", 1...100_000)
        try checkBounds(clients, "--clients", 1...256)
    }

    static var hello: [String: Any] { ["language": "javascript", "code": #"console.log("hi")"#] }

    func run() async throws {
        print("wasm-sandbox MCP benchmark: \(calls) calls of each kind, raw JSON-RPC clients")
        // Timed first: spawning a process from one that holds a sandbox (gigabytes of reserved
        // address space for its pooling allocator) costs the fork tens of milliseconds.
        let process = try wasmtimeProcess()
        let stdio = try RawStdioClient(executable: cli, environment: ["MCP_SANDBOX_MAX_MESSAGE_BYTES": "\(64 << 20)"])
        defer { stdio.stop() }
        try MCPMessages.checkRan(try stdio.request("tools/call", MCPMessages.toolCall(Self.hello)))

        // Requests encoded before the clock starts and answers checked by their bytes, so that
        // the client's own JSON work is not timed.
        let pings = (0..<calls).map { _ in stdio.encode("ping", nil) }
        let ping = try Self.time(pings) { try stdio.roundTripRaw($0) }
        let hellos = (0..<calls).map { _ in stdio.encode("tools/call", MCPMessages.toolCall(Self.hello)) }
        let stdioHello = try Self.time(hellos) {
            guard try stdio.roundTripRaw($0).contains(Self.ranMarker) else {
                throw BenchmarkError("a call did not run")
            }
        }
        print("stdio  ping round trip:               \(ping.summary)  (target ≤ 200 µs: \(Self.verdict(ping, 200)))")
        print(
            "stdio  execute_code JavaScript hello: \(stdioHello.summary)  (target ≤ 500 µs: \(Self.verdict(stdioHello, 500)))"
        )

        // Throughput with requests in flight: `clients` written, then their answers read.
        let rounds = max(calls / clients, 1)
        let start = DispatchTime.now().uptimeNanoseconds
        for _ in 0..<rounds {
            let ids = (0..<clients).map { _ in stdio.send("tools/call", MCPMessages.toolCall(Self.hello)) }
            for _ in ids {
                try MCPMessages.checkRan(try MCPMessages.result(of: try stdio.receive(), id: ids[0], any: ids))
            }
        }
        let seconds = Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9
        print(
            "stdio  \(clients) requests in flight:         \(format(Double(rounds * clients) / seconds, digits: 0)) calls/s"
        )

        // Cost by request size: execute_code with that much stdin, which the JavaScript ignores.
        var medians: [Double] = []
        for mebibytes in [1, 2, 4, 8] {
            let arguments = Self.hello.merging(["stdin": String(repeating: "x", count: mebibytes << 20)]) { $1 }
            var samples: [UInt64] = []
            for _ in 0..<5 {
                let encoded = stdio.encode("tools/call", MCPMessages.toolCall(arguments))
                let begin = DispatchTime.now().uptimeNanoseconds
                let result = try stdio.roundTrip(encoded)
                samples.append(DispatchTime.now().uptimeNanoseconds - begin)
                try MCPMessages.checkRan(result)
            }
            let stats = LatencyStats(nanoseconds: samples)
            medians.append(stats.median)
            var line =
                "stdio  \(mebibytes) MiB request:                 median \(format(stats.median / 1000, digits: 1)) ms, \(format(stats.median / 1000 / Double(mebibytes), digits: 1)) ms per MiB"
            if mebibytes == 4 { line += "  (target ≤ 100 ms: \(Self.verdict(stats, 100_000)))" }
            print(line)
        }
        // Linear means each further MiB costs the same: compare the cost of the MiB added from 1
        // to 2 MiB with the cost per MiB added from 4 to 8.
        let early = (medians[1] - medians[0]) / 1000
        let late = (medians[3] - medians[2]) / 4 / 1000
        print(
            "       each further MiB: \(format(early, digits: 1)) ms from 1 to 2 MiB, \(format(late, digits: 1)) ms from 4 to 8 MiB (equal when linear)"
        )

        let server = try HTTPServerProcess(executable: cli)
        defer { server.stop() }
        let http = try RawHTTPClient(host: "127.0.0.1", port: server.port)
        try MCPMessages.checkRan(try http.request("tools/call", MCPMessages.toolCall(Self.hello)))
        let httpPing = try Self.time(Array(0..<calls)) { _ in try http.request("ping") }
        let httpHello = try Self.time(Array(0..<calls)) { _ in
            try MCPMessages.checkRan(try http.request("tools/call", MCPMessages.toolCall(Self.hello)))
        }
        print("HTTP   ping round trip:               \(httpPing.summary)")
        print(
            "HTTP   execute_code JavaScript hello: \(httpHello.summary)  (target ≤ 1000 µs: \(Self.verdict(httpHello, 1000)))"
        )
        // The same with what a shared server runs with: a client token and the audit trail.
        let scratch = FileManager.default.temporaryDirectory.appendingPathComponent("bench-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: scratch, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: scratch) }
        let (token, line) = try AuthTokens.newToken(client: "bench")
        // No quota should bind a benchmark: the largest each setting allows.
        try
            "\(line) calls_per_minute=\(LimitBounds.quotaCalls.upperBound) cpu_seconds_per_minute=\(LimitBounds.quotaSeconds.upperBound)\n"
            .write(to: scratch.appendingPathComponent("tokens"), atomically: true, encoding: .utf8)
        let secured = try HTTPServerProcess(
            executable: cli,
            arguments: [
                "--auth-tokens", scratch.appendingPathComponent("tokens").path, "--audit-log",
                scratch.appendingPathComponent("audit.jsonl").path,
            ])
        defer { secured.stop() }
        let securedClient = try RawHTTPClient(host: "127.0.0.1", port: secured.port, token: token)
        try MCPMessages.checkRan(try securedClient.request("tools/call", MCPMessages.toolCall(Self.hello)))
        let securedHello = try Self.time(Array(0..<calls)) { _ in
            try MCPMessages.checkRan(try securedClient.request("tools/call", MCPMessages.toolCall(Self.hello)))
        }
        print(
            "HTTP   the same, with a token, quotas and the audit log: \(securedHello.summary)  (+\(format(securedHello.median - httpHello.median)) µs)"
        )

        let sandbox = try Sandbox()
        let request = ExecutionRequest(.javascript(#"console.log("hi")"#))
        _ = await sandbox.execute(request)
        var library: [UInt64] = []
        for _ in 0..<calls {
            let begin = DispatchTime.now().uptimeNanoseconds
            _ = await sandbox.execute(request)
            library.append(DispatchTime.now().uptimeNanoseconds - begin)
        }
        let libraryStats = LatencyStats(nanoseconds: library)
        print("the same run through the library:     \(libraryStats.summary)")
        // As the servers above run (`--log-level notice`): audit lines are made, not printed.
        var audit = Logger(label: "wasm-sandbox.audit")
        audit.logLevel = .notice
        let service = try SandboxMCPServer(auditLogger: audit)
        let arguments: [String: Value] = ["language": "javascript", "code": #"console.log("hi")"#]
        _ = try await service.call("execute_code", arguments: arguments)
        var handler: [UInt64] = []
        for _ in 0..<calls {
            let begin = DispatchTime.now().uptimeNanoseconds
            _ = try await service.call("execute_code", arguments: arguments)
            handler.append(DispatchTime.now().uptimeNanoseconds - begin)
        }
        print("the tool handler alone, no protocol:  \(LatencyStats(nanoseconds: handler).summary)")
        print(
            "       protocol and transport cost: stdio \(format(stdioHello.median - libraryStats.median)) µs, HTTP \(format(httpHello.median - libraryStats.median)) µs a call"
        )
        if let process {
            print(
                "wasmtime CLI, the JavaScript engine as a process (one empty turn): median \(format(process.median / 1000, digits: 2)) ms; an MCP call over stdio costs \(format(stdioHello.median / process.median * 100, digits: 1))% of it"
            )
        }
    }

    /// The JavaScript engine started by the wasmtime CLI, a process per run, given an empty
    /// turn (the CLI cannot pass it source in memory): the floor of what an agent would pay
    /// without a server.
    private func wasmtimeProcess() throws -> LatencyStats? {
        guard let wasmtimeCLI = try WasmtimeCLI(path: wasmtime),
            let engine = SandboxConfiguration().javascriptEngine.flatMap({ try? [UInt8](Data(contentsOf: $0)) })
        else { return nil }
        let command = try wasmtimeCLI.precompile(engine).command(invoking: "turn", ["0", "0"])
        _ = try timeProcess(command)
        return LatencyStats(nanoseconds: try (0..<min(calls, 40)).map { _ in try timeProcess(command) })
    }

    /// What a structured result of a run that went well contains.
    static let ranMarker = Data(#""status":"ok""#.utf8)

    private static func time<Input>(_ inputs: [Input], _ body: (Input) throws -> Void) throws -> LatencyStats {
        var samples: [UInt64] = []
        samples.reserveCapacity(inputs.count)
        for input in inputs {
            let begin = DispatchTime.now().uptimeNanoseconds
            try body(input)
            samples.append(DispatchTime.now().uptimeNanoseconds - begin)
        }
        return LatencyStats(nanoseconds: samples)
    }

    private static func verdict(_ stats: LatencyStats, _ microseconds: Double) -> String {
        stats.median <= microseconds ? "met" : "MISSED"
    }
}

/// `wasm-sandbox serve` over stdio, as an MCP client application starts it.
final class StdioServerProcess {
    let process = Process()
    let toServer = Pipe()
    let fromServer = Pipe()

    init(executable: String, environment: [String: String] = [:]) throws {
        process.executableURL = URL(fileURLWithPath: executable)
        process.arguments = ["serve", "--log-level", "error"]
        process.environment = ProcessInfo.processInfo.environment.merging(environment) { $1 }
        process.standardInput = toServer
        process.standardOutput = fromServer
        try process.run()
    }

    /// The client's end of the server's standard input and output.
    var transport: StdioTransport {
        StdioTransport(
            input: FileDescriptor(rawValue: fromServer.fileHandleForReading.fileDescriptor),
            output: FileDescriptor(rawValue: toServer.fileHandleForWriting.fileDescriptor))
    }

    /// Closes the server's input, which ends it, and waits for it to exit.
    func stop() {
        try? toServer.fileHandleForWriting.close()
        process.waitUntilExit()
    }
}
