import ArgumentParser
import Foundation
import Logging
import MCP
import WasmSandbox
import WasmSandboxCLICommands
import WasmSandboxMCP

#if canImport(FoundationNetworking)
    import FoundationNetworking
#endif

/// Tool-call latency through the MCP SDK's own client over Streamable HTTP on loopback, over
/// its in-memory transport and as a bare handler call, next to the same runs through the
/// library, so that what the protocol costs is visible.
struct MCPBenchmark: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "mcp", abstract: "Measure execute_code over MCP, next to the same runs through the library.")

    @Option(help: "Calls each client makes.")
    var calls = 200

    @Option(help: "Concurrent clients in the second round (the first has one).")
    var clients = 16

    func validate() throws {
        try checkBounds(calls, "--calls", 1...100_000)
        try checkBounds(clients, "--clients", 1...256)
    }

    static let arguments: [String: Value] = ["language": "javascript", "code": #"console.log("hi")"#]

    func run() async throws {
        let service = try SandboxMCPServer()
        let ready = AsyncStream.makeStream(of: Int.self)
        let quiet = Logger(label: "bench", factory: { _ in SwiftLogNoOpLogHandler() })
        let serving = Task {
            try await service.serve(.http(host: "127.0.0.1", port: 0), logger: quiet) { ready.continuation.yield($0) }
        }
        defer { serving.cancel() }
        var ports = ready.stream.makeAsyncIterator()
        guard let port = await ports.next() else { throw BenchmarkError("the HTTP server did not start") }
        let endpoint = URL(string: "http://127.0.0.1:\(port)/mcp")!
        _ = try await Self.call(try await Self.connect(endpoint))  // compiles the engine once

        for clients in [1, clients] {
            try await compare(service: service, endpoint: endpoint, clients: clients)
        }

        // The SDK and JSON alone, without HTTP: one session on the in-memory transport.
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
        print("MCP over the SDK's in-memory transport:    \(LatencyStats(nanoseconds: inMemory).summary) (no HTTP)")
        print("the tool handler alone, no protocol:       \(LatencyStats(nanoseconds: handler).summary)")
    }

    private func compare(service: SandboxMCPServer, endpoint: URL, clients: Int) async throws {
        let (samples, elapsed) = try await Self.rounds(clients: clients, calls: calls) {
            let client = try await Self.connect(endpoint)
            return { _ = try await Self.call(client) }
        }
        let request = ExecutionRequest(.javascript(#"console.log("hi")"#))
        let (librarySamples, libraryElapsed) = try await Self.rounds(clients: clients, calls: calls) {
            { _ = await service.sandbox.execute(request) }
        }
        let mcp = LatencyStats(nanoseconds: samples)
        let library = LatencyStats(nanoseconds: librarySamples)
        print(
            "MCP execute_code JS hello, HTTP, \(clients) clients: \(mcp.summary), \(format(Double(samples.count) / elapsed, digits: 0)) calls/s"
        )
        print(
            "same runs through the library, \(clients) callers:  \(library.summary), \(format(Double(librarySamples.count) / libraryElapsed, digits: 0)) runs/s"
        )
        print("protocol overhead, median:                  \(format(mcp.median - library.median)) µs per call")
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

    /// A session of the SDK's client over Streamable HTTP (JSON responses, no GET stream).
    private static func connect(_ endpoint: URL) async throws -> Client {
        let client = Client(name: "bench", version: "1")
        _ = try await client.connect(transport: HTTPClientTransport(endpoint: endpoint, streaming: false))
        return client
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
