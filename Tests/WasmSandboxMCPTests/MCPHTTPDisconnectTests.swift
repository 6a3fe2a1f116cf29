import Foundation
import MCP
import Testing
import WasmSandboxMCP

#if canImport(Glibc)
    import Glibc
#endif

@Suite("Streamable HTTP server when a client goes away")
struct MCPHTTPDisconnectTests {
    /// The server cancels the call of a client that closed its connection, naming the call by
    /// its JSON-RPC id as the client sent it: a string here, and a number.
    @Test(arguments: [#""call-7""#, "7"])
    func aCallWhoseClientDisconnectsIsCancelled(id: String) async throws {
        let running = try await RunningHTTPServer { _ in }
        defer { running.task.cancel() }
        let session = try await RawConnection.openSession(port: running.port)
        let connection = try RawConnection(port: running.port)
        let call =
            #"{"jsonrpc":"2.0","id":\#(id),"method":"tools/call","params":{"name":"execute_code","arguments":{"language":"javascript","code":"for (;;) {}","timeout_ms":60000}}}"#
        let head = RawConnection.head(session: session)
        connection.send(head + "Content-Length: \(call.utf8.count)\r\n\r\n" + call)
        func metrics() async throws -> [String: Value] {
            try await running.server.service.call("sandbox_metrics", arguments: nil).structuredContent?.objectValue
                ?? [:]
        }
        // The run has started (the answer is plain JSON, sent when the call ends).
        #expect(try await eventually { (try? await metrics()["in_flight"]) == 1 })
        shutdown(connection.fd, Int32(SHUT_RDWR))
        #expect(try await eventually { (try? await metrics()["in_flight"]) == 0 })
        #expect(try await metrics()["by_status"] == ["cancelled": 1])
    }
}
