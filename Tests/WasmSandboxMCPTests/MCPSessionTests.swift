import Foundation
import MCP
import Testing
import WasmSandbox
import WasmSandboxMCP

func callTool(_ client: Client, _ name: String, _ arguments: [String: Value] = [:]) async throws -> CallTool.Result {
    let context: RequestContext<CallTool.Result> = try await client.callTool(name: name, arguments: arguments)
    return try await context.value
}

@Suite("MCP code sessions")
struct MCPSessionTests {
    @Test func stateLivesAcrossCallsAndTheValueComesBack() async throws {
        let client = try await connectedClient()
        let first = try await execute(
            client,
            [
                "language": "python", "session_id": "notebook",
                "code": "import pandas as pd\ndf = pd.DataFrame({'x': [1, 2, 3]})",
            ])
        #expect(first.isError == false, "\(text(first))")
        #expect(first.structuredContent?.objectValue?["session_id"] == "notebook")
        #expect(first.structuredContent?.objectValue?["value"] == .null)
        let opened = first.structuredContent?.objectValue?["limits"]?.objectValue?["memory_mb"]
        // A later call cannot change the session's memory cap, and its result says which applies.
        let second = try await execute(
            client,
            ["language": "python", "session_id": "notebook", "code": "int(df.x.sum()) * 2", "memory_mb": 512])
        #expect(second.structuredContent?.objectValue?["limits"]?.objectValue?["memory_mb"] == opened)
        #expect(opened == 256)
        #expect(second.structuredContent?.objectValue?["value"] == "12", "\(text(second))")
        #expect(second.structuredContent?.objectValue?["session_ended"] == false)
        #expect(text(second).contains("value:\n12\n"))
        let js = try await execute(client, ["language": "javascript", "session_id": "js", "code": "var n = 41"])
        #expect(js.isError == false)
        let more = try await execute(client, ["language": "javascript", "session_id": "js", "code": "++n"])
        #expect(more.structuredContent?.objectValue?["value"] == "42")

        let listed = try await callTool(client, "list_sessions")
        let sessions = listed.structuredContent?.objectValue?["sessions"]?.arrayValue ?? []
        #expect(sessions.compactMap { $0.objectValue?["session_id"]?.stringValue } == ["js", "notebook"])
        #expect(sessions.last?.objectValue?["language"] == "python")
        #expect(sessions.last?.objectValue?["calls"] == 2)

        let reset = try await callTool(client, "reset_session", ["session_id": "notebook"])
        #expect(reset.isError == false, "\(text(reset))")
        let fresh = try await execute(
            client, ["language": "python", "session_id": "notebook", "code": "'df' in dir()"])
        #expect(fresh.structuredContent?.objectValue?["value"] == "False")
        let closed = try await callTool(client, "close_session", ["session_id": "js"])
        #expect(closed.structuredContent?.objectValue?["closed"] == true)
        let again = try await callTool(client, "close_session", ["session_id": "js"])
        #expect(again.isError == true)
        #expect(text(again) == "no session 'js' is open on this connection")
    }

    @Test func oneClientCannotReachAnothersSession() async throws {
        let alice = try await connectedClient()
        let mallory = try await connectedClient()
        _ = try await execute(alice, ["language": "python", "session_id": "shared-name", "code": "secret = 'alice'"])
        let guess = try await execute(
            mallory, ["language": "python", "session_id": "shared-name", "code": "globals().get('secret')"])
        // The same name on another connection is another, empty session.
        #expect(guess.structuredContent?.objectValue?["value"] == .null, "\(text(guess))")
        #expect(try await callTool(mallory, "close_session", ["session_id": "shared-name"]).isError == false)
        let own = try await execute(alice, ["language": "python", "session_id": "shared-name", "code": "secret"])
        #expect(own.structuredContent?.objectValue?["value"] == "'alice'")
    }

    @Test func aTimeoutEndsTheSessionAndTheNextCallSaysSo() async throws {
        let client = try await connectedClient()
        _ = try await execute(client, ["language": "javascript", "session_id": "s", "code": "var kept = 1"])
        let spin = try await execute(
            client, ["language": "javascript", "session_id": "s", "code": "for (;;) {}", "timeout_ms": 300])
        #expect(spin.structuredContent?.objectValue?["status"] == "timed_out")
        #expect(spin.structuredContent?.objectValue?["session_ended"] == true)
        #expect(text(spin).contains("the session has ended"))
        let next = try await execute(client, ["language": "javascript", "session_id": "s", "code": "kept"])
        #expect(next.isError == true)
        #expect(text(next).contains("has ended"), "\(text(next))")
        #expect(text(next).contains("call execute_code again with this session_id to start a new, empty session"))
        let restarted = try await execute(client, ["language": "javascript", "session_id": "s", "code": "typeof kept"])
        #expect(restarted.structuredContent?.objectValue?["value"] == "'undefined'", "\(text(restarted))")
    }

    @Test func badSessionArgumentsAreClearErrors() async throws {
        let client = try await connectedClient()
        for (arguments, message) in [
            (
                ["language": "python", "code": "1", "session_id": "has space"],
                "'session_id' must be a string of 1 to 128"
            ),
            (
                ["language": "python", "code": "1", "session_id": .string(String(repeating: "a", count: 129))],
                "'session_id' must be"
            ),
            (
                ["language": "wat", "code": "(module)", "session_id": "w"],
                "'session_id' works with javascript and python"
            ),
            (["language": "python", "code": "1", "session_id": "a", "args": ["x"]], "'args' and 'env' cannot be used"),
        ] as [([String: Value], String)] {
            let refusal = await invalidParamsMessage(client, arguments)
            #expect(refusal.contains(message), "\(refusal)")
        }
        _ = try await execute(client, ["language": "python", "session_id": "p", "code": "1"])
        let refusal = await invalidParamsMessage(client, ["language": "javascript", "session_id": "p", "code": "1"])
        #expect(refusal.contains("session 'p' runs python, not javascript"))
    }

    @Test func closingTheConnectionClosesItsSessions() async throws {
        let running = try await RunningHTTPServer { _ in }
        defer { running.task.cancel() }
        let sandbox = running.server.service.sandbox
        let session = try await RawConnection.openSession(port: running.port)
        let call =
            #"{"jsonrpc":"2.0","id":3,"method":"tools/call","params":{"name":"execute_code","arguments":{"language":"javascript","session_id":"kept","code":"var x = 1"}}}"#
        let response = try await RawConnection.request(port: running.port, session: session, body: call)
        #expect(response.contains(#"session_ended"#), "\(response.prefix(400))")
        #expect(sandbox.sessions().count == 1)
        _ = try await RawConnection.request(port: running.port, method: "DELETE", session: session)
        #expect(try await eventually { sandbox.sessions().isEmpty })
    }

    /// A closed HTTP session's calls are cancelled with it (not left to finish and keep files
    /// for a connection that is gone), and no later connection can read what it made.
    @Test func closingAnHTTPSessionCancelsItsCallsAndItsFilesStayItsOwn() async throws {
        let running = try await RunningHTTPServer { _ in }
        defer { running.task.cancel() }
        let service = running.server.service
        let session = try await RawConnection.openSession(port: running.port)
        let connection = try RawConnection(port: running.port)
        let call =
            #"{"jsonrpc":"2.0","id":4,"method":"tools/call","params":{"name":"execute_code","arguments":{"language":"python","code":"open('/workspace/secret.txt', 'w').write('mine')\nwhile True: pass","timeout_ms":60000}}}"#
        let head = RawConnection.head(session: session)
        connection.send(head + "Content-Length: \(call.utf8.count)\r\n\r\n" + call)
        func metrics() async throws -> [String: Value] {
            try await service.call("sandbox_metrics", arguments: nil).structuredContent?.objectValue ?? [:]
        }
        #expect(try await eventually { (try? await metrics()["in_flight"]) == 1 })
        _ = try await RawConnection.request(port: running.port, method: "DELETE", session: session)
        #expect(try await eventually { (try? await metrics()["in_flight"]) == 0 })
        #expect(try await metrics()["by_status"] == ["cancelled": 1])
        // Connections opened after it see nothing of it.
        for _ in 0..<20 {
            let other = try await RawConnection.openSession(port: running.port)
            let list = #"{"jsonrpc":"2.0","id":5,"method":"resources/list"}"#
            let answer = try await RawConnection.request(port: running.port, session: other, body: list)
            #expect(!answer.contains("secret.txt"), "\(answer.prefix(400))")
        }
    }
}
