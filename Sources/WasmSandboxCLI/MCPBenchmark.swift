import Foundation
import Logging
import MCP
import WasmSandbox
import WasmSandboxMCP

#if canImport(FoundationNetworking)
    import FoundationNetworking
#endif

/// Tool-call latency over Streamable HTTP on loopback, next to the same runs through the
/// library, so the protocol's cost is visible.
struct MCPBenchmark {
    let clients: Int
    let callsPerClient: Int

    func run() async throws {
        let service = try SandboxMCPServer()
        let ready = AsyncStream.makeStream(of: Int.self)
        let server = MCPHTTPServer(
            service: service, host: "127.0.0.1", port: 0, prometheus: nil,
            logger: Logger(label: "bench", factory: { _ in SwiftLogNoOpLogHandler() }))
        let serving = Task { try await server.run { port in ready.continuation.yield(port) } }
        defer { serving.cancel() }
        var ports = ready.stream.makeAsyncIterator()
        guard let port = await ports.next() else { throw BenchmarkError("the HTTP server did not start") }
        let endpoint = URL(string: "http://127.0.0.1:\(port)/mcp")!
        let hello = #"{"language":"javascript","code":"console.log(\"hi\")"}"#

        // Warm up: compile the engine once.
        _ = try await MCPHTTPClient.connect(endpoint).call(arguments: hello)

        let start = DispatchTime.now().uptimeNanoseconds
        let samples = try await withThrowingTaskGroup(of: [UInt64].self) { group in
            for _ in 0..<clients {
                group.addTask {
                    let client = try await MCPHTTPClient.connect(endpoint)
                    var samples: [UInt64] = []
                    for _ in 0..<callsPerClient {
                        let begin = DispatchTime.now().uptimeNanoseconds
                        let status = try await client.call(arguments: hello)
                        guard status == "ok" else { throw BenchmarkError("a call ended \(status)") }
                        samples.append(DispatchTime.now().uptimeNanoseconds - begin)
                    }
                    return samples
                }
            }
            return try await group.reduce(into: [UInt64]()) { $0 += $1 }
        }
        let elapsed = Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9
        let mcp = LatencyStats(nanoseconds: samples)

        let request = ExecutionRequest(.javascript(#"console.log("hi")"#))
        let libraryStart = DispatchTime.now().uptimeNanoseconds
        let librarySamples = await withTaskGroup(of: [UInt64].self) { group in
            for _ in 0..<clients {
                group.addTask {
                    var samples: [UInt64] = []
                    for _ in 0..<callsPerClient {
                        let begin = DispatchTime.now().uptimeNanoseconds
                        _ = await service.sandbox.execute(request)
                        samples.append(DispatchTime.now().uptimeNanoseconds - begin)
                    }
                    return samples
                }
            }
            return await group.reduce(into: [UInt64]()) { $0 += $1 }
        }
        let libraryElapsed = Double(DispatchTime.now().uptimeNanoseconds - libraryStart) / 1e9
        let library = LatencyStats(nanoseconds: librarySamples)

        print(
            "MCP execute_code JS hello, HTTP, \(clients) clients: \(mcp.summary), \(format(Double(samples.count) / elapsed, digits: 0)) calls/s"
        )
        print(
            "same runs through the library, \(clients) callers:  \(library.summary), \(format(Double(librarySamples.count) / libraryElapsed, digits: 0)) runs/s"
        )
        print("protocol overhead, median:                  \(format(mcp.median - library.median)) µs per call")

        // The SDK and JSON alone, without HTTP: one session on the in-memory transport.
        let (clientTransport, serverTransport) = await InMemoryTransport.createConnectedPair()
        _ = try await service.startServer(transport: serverTransport)
        let client = Client(name: "bench", version: "1")
        _ = try await client.connect(transport: clientTransport)
        let arguments: [String: Value] = ["language": "javascript", "code": #"console.log("hi")"#]
        var inMemory: [UInt64] = []
        for _ in 0..<callsPerClient {
            let begin = DispatchTime.now().uptimeNanoseconds
            let context: RequestContext<CallTool.Result> = try await client.callTool(
                name: "execute_code", arguments: arguments)
            _ = try await context.value
            inMemory.append(DispatchTime.now().uptimeNanoseconds - begin)
        }
        var handler: [UInt64] = []
        for _ in 0..<callsPerClient {
            let begin = DispatchTime.now().uptimeNanoseconds
            _ = try await service.call("execute_code", arguments: arguments)
            handler.append(DispatchTime.now().uptimeNanoseconds - begin)
        }
        if clients == 1 {
            print("MCP over the SDK's in-memory transport:    \(LatencyStats(nanoseconds: inMemory).summary) (no HTTP)")
            print("the tool handler alone, no protocol:       \(LatencyStats(nanoseconds: handler).summary)")
        }
    }
}

struct BenchmarkError: Error, CustomStringConvertible {
    var description: String
    init(_ description: String) { self.description = description }
}

/// A minimal Streamable HTTP MCP client for the benchmark: one session, JSON-RPC over POST,
/// responses read from the SSE body.
struct MCPHTTPClient: Sendable {
    let endpoint: URL
    let session: String

    static func connect(_ endpoint: URL) async throws -> MCPHTTPClient {
        let initialize =
            #"{"jsonrpc":"2.0","id":0,"method":"initialize","params":{"protocolVersion":"2025-06-18","capabilities":{},"clientInfo":{"name":"bench","version":"1"}}}"#
        let (_, response) = try await post(endpoint, body: initialize, session: nil)
        guard let session = response.value(forHTTPHeaderField: "Mcp-Session-Id") else {
            throw BenchmarkError("no session id in the initialize response")
        }
        _ = try await post(endpoint, body: #"{"jsonrpc":"2.0","method":"notifications/initialized"}"#, session: session)
        return MCPHTTPClient(endpoint: endpoint, session: session)
    }

    /// Calls execute_code and returns the run's status.
    func call(arguments: String) async throws -> String {
        let body =
            #"{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"execute_code","arguments":"# + arguments
            + "}}"
        let (data, _) = try await Self.post(endpoint, body: body, session: session)
        let text = String(decoding: data, as: UTF8.self)
        guard let line = text.split(separator: "\n").last(where: { $0.hasPrefix("data: {") }),
            let json = try JSONSerialization.jsonObject(with: Data(line.dropFirst(6).utf8)) as? [String: Any],
            let result = json["result"] as? [String: Any],
            let structured = result["structuredContent"] as? [String: Any],
            let status = structured["status"] as? String
        else { throw BenchmarkError("unexpected response: \(text.prefix(300))") }
        return status
    }

    private static func post(_ url: URL, body: String, session: String?) async throws -> (Data, HTTPURLResponse) {
        var request = URLRequest(url: url)
        request.httpMethod = "POST"
        request.httpBody = Data(body.utf8)
        request.setValue("application/json", forHTTPHeaderField: "Content-Type")
        request.setValue("application/json, text/event-stream", forHTTPHeaderField: "Accept")
        request.setValue("2025-06-18", forHTTPHeaderField: "MCP-Protocol-Version")
        if let session { request.setValue(session, forHTTPHeaderField: "Mcp-Session-Id") }
        let (data, response) = try await URLSession.shared.data(for: request)
        guard let http = response as? HTTPURLResponse, http.statusCode < 300 else {
            throw BenchmarkError(
                "HTTP \((response as? HTTPURLResponse)?.statusCode ?? 0): \(String(decoding: data, as: UTF8.self))")
        }
        return (data, http)
    }
}
