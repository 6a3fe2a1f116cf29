import ArgumentParser
import Foundation
import Logging
import MCP
import SystemPackage
import WasmSandbox
import WasmSandboxCLICommands
import WasmSandboxMCP

/// Tool-call latency through the MCP SDK's own client: over stdio to a `wasm-sandbox serve`
/// process, over its in-memory transport and as a bare handler call, next to the same runs
/// through the library, so that what the protocol costs is visible.
///
/// Streamable HTTP is not measured here: on Linux the SDK's `HTTPClientTransport` hands an
/// SSE response body to the client unparsed (it logs "SSE responses aren't fully supported on
/// Linux") and the SDK's server transport always answers requests with SSE, so the SDK's
/// client never sees an answer. The Python SDK's client exercises HTTP in the tests.
struct MCPBenchmark: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "mcp", abstract: "Measure execute_code over MCP, next to the same runs through the library.")

    @Option(help: "Calls each client makes.")
    var calls = 200

    @Option(help: "Concurrent callers in the second round (the first has one), sharing one stdio session.")
    var clients = 16

    @Option(help: "The wasm-sandbox executable (default: the one beside this benchmark).")
    var cli = siblingExecutable("wasm-sandbox")

    func validate() throws {
        try checkBounds(calls, "--calls", 1...100_000)
        try checkBounds(clients, "--clients", 1...256)
    }

    static let arguments: [String: Value] = ["language": "javascript", "code": #"console.log("hi")"#]

    func run() async throws {
        let service = try SandboxMCPServer()
        let server = try StdioServerProcess(executable: cli)
        defer { server.stop() }
        let stdio = Client(name: "bench", version: "1")
        _ = try await stdio.connect(transport: server.transport)
        _ = try await Self.call(stdio)  // compiles the engine once, in the server
        _ = try await service.call("execute_code", arguments: Self.arguments)  // and here

        for callers in [1, clients] {
            let (samples, elapsed) = try await Self.rounds(clients: callers, calls: calls) {
                { _ = try await Self.call(stdio) }
            }
            let request = ExecutionRequest(.javascript(#"console.log("hi")"#))
            let (librarySamples, libraryElapsed) = try await Self.rounds(clients: callers, calls: calls) {
                { _ = await service.sandbox.execute(request) }
            }
            let mcp = LatencyStats(nanoseconds: samples)
            let library = LatencyStats(nanoseconds: librarySamples)
            print(
                "MCP execute_code JS hello, stdio, \(callers) callers: \(mcp.summary), \(format(Double(samples.count) / elapsed, digits: 0)) calls/s"
            )
            print(
                "same runs through the library, \(callers) callers:  \(library.summary), \(format(Double(librarySamples.count) / libraryElapsed, digits: 0)) runs/s"
            )
        }

        // The SDK and JSON alone, without a process boundary: the in-memory transport.
        let (clientTransport, serverTransport) = await InMemoryTransport.createConnectedPair()
        _ = try await service.startServer(transport: serverTransport)
        let client = Client(name: "bench", version: "1")
        _ = try await client.connect(transport: clientTransport)
        var inMemory: [UInt64] = []
        var handler: [UInt64] = []
        for _ in 0..<calls {
            var begin = DispatchTime.now().uptimeNanoseconds
            _ = try await Self.call(client)
            inMemory.append(DispatchTime.now().uptimeNanoseconds - begin)
            begin = DispatchTime.now().uptimeNanoseconds
            _ = try await service.call("execute_code", arguments: Self.arguments)
            handler.append(DispatchTime.now().uptimeNanoseconds - begin)
        }
        print("MCP over the SDK's in-memory transport:    \(LatencyStats(nanoseconds: inMemory).summary)")
        print("the tool handler alone, no protocol:       \(LatencyStats(nanoseconds: handler).summary)")
    }

    /// `clients` tasks each make `calls` calls with what `makeCall` gives them; returns every
    /// call's latency and the seconds all took.
    private static func rounds(
        clients: Int, calls: Int, _ makeCall: @escaping @Sendable () async throws -> @Sendable () async throws -> Void
    ) async throws -> ([UInt64], Double) {
        let start = DispatchTime.now().uptimeNanoseconds
        let samples = try await withThrowingTaskGroup(of: [UInt64].self) { group in
            for _ in 0..<clients {
                group.addTask {
                    let call = try await makeCall()
                    var samples: [UInt64] = []
                    for _ in 0..<calls {
                        let begin = DispatchTime.now().uptimeNanoseconds
                        try await call()
                        samples.append(DispatchTime.now().uptimeNanoseconds - begin)
                    }
                    return samples
                }
            }
            return try await group.reduce(into: [UInt64]()) { $0 += $1 }
        }
        return (samples, Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9)
    }

    /// Calls execute_code with the JavaScript hello and checks that it ran.
    private static func call(_ client: Client) async throws -> CallTool.Result {
        let context: RequestContext<CallTool.Result> = try await client.callTool(
            name: "execute_code", arguments: arguments)
        let result = try await context.value
        guard result.structuredContent?.objectValue?["status"] == "ok" else {
            throw BenchmarkError("a call did not run: \(result)")
        }
        return result
    }
}

/// `wasm-sandbox serve` over stdio, as an MCP client application starts it.
final class StdioServerProcess {
    let process = Process()
    private let toServer = Pipe()
    private let fromServer = Pipe()

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
