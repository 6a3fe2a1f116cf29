import Crypto
import Foundation
import Testing
import WasmSandboxMCP

#if canImport(Glibc)
    import Glibc
#endif

/// A tool call over raw HTTP, as any client makes it.
struct RawCall {
    /// The HTTP status line's code.
    var status: Int
    /// The JSON-RPC `result` (a tool result), when there is one.
    var result: [String: Any]?
    var response: String

    var structured: [String: Any] { result?["structuredContent"] as? [String: Any] ?? [:] }
    var text: String { ((result?["content"] as? [[String: Any]])?.first?["text"] as? String) ?? "" }
    var isError: Bool { result?["isError"] as? Bool ?? false }

    static func call(
        port: Int, session: String, token: String?, tool: String = "execute_code", arguments: [String: Any]
    ) async throws -> RawCall {
        let request: [String: Any] = [
            "jsonrpc": "2.0", "id": 9, "method": "tools/call", "params": ["name": tool, "arguments": arguments],
        ]
        let body = String(decoding: try JSONSerialization.data(withJSONObject: request), as: UTF8.self)
        let response = try await RawConnection.request(port: port, session: session, token: token, body: body)
        let status = Int(response.split(separator: " ").dropFirst().first ?? "") ?? 0
        var result: [String: Any]?
        if let data = response.range(of: "data: ") {
            let line = response[data.upperBound...].prefix { $0 != "\n" }
            let message = try? JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any]
            result = message?["result"] as? [String: Any]
        }
        return RawCall(status: status, result: result, response: response)
    }

    static func javascript(
        port: Int, session: String, token: String?, _ code: String, extra: [String: Any] = [:]
    ) async throws -> RawCall {
        try await call(
            port: port, session: session, token: token,
            arguments: ["language": "javascript", "code": code].merging(extra) { $1 })
    }
}

@Suite("Who may run code over HTTP: tokens, quotas and the audit trail", .serialized)
struct MCPAuthTests {
    let alice = RunningHTTPServer.tokens["alice"]!
    let bob = RunningHTTPServer.tokens["bob"]!

    @Test func aTokensFileIsCheckedLineByLine() throws {
        let hash = String(repeating: "ab", count: 32)
        let tokens = try AuthTokens(
            parsing: """
                # clients
                alice \(hash)   # old token, being rotated
                alice \(String(repeating: "cd", count: 32)) concurrent_runs=8 calls_per_minute=10

                ci.runner-2\t\(String(repeating: "0F", count: 32)) cpu_seconds_per_minute=120
                """)
        #expect(tokens.entries.map(\.client) == ["alice", "alice", "ci.runner-2"])
        #expect(tokens.entries[1].quota.concurrentRuns == 8)
        #expect(tokens.entries[1].quota.callsPerMinute == 10)
        #expect(tokens.entries[1].quota.cpuSecondsPerMinute == nil)
        #expect(tokens.entries[2].quota.cpuSecondsPerMinute == 120)
        for (text, message) in [
            ("alice", "line 1: expected 'NAME SHA256-HEX', got only 'alice'"),
            ("alice 1234", "line 1: '1234' is not a SHA-256 in hex"),
            ("al ice \(hash)", "line 1: 'ice' is not a SHA-256 in hex"),
            ("-alice \(hash)", "line 1: client name '-alice' must be"),
            ("stdio \(hash)", "line 1: client name 'stdio' is reserved"),
            ("Other \(hash)", "line 1: client name 'Other' is reserved"),
            ("a \(hash) sessions=2 sessions=3", "line 1: 'sessions' is set twice"),
            ("a \(hash)\nb \(hash)", "line 2: this token hash is already on an earlier line"),
            ("a \(hash) speed=3", "line 1: unknown setting 'speed=3'"),
            ("a \(hash) concurrent_runs=0", "line 1: concurrent_runs must be an integer from 1 to 1024, got '0'"),
            (
                "a \(hash) calls_per_minute=99999999999999999999999",
                "calls_per_minute must be an integer from 1 to 1000000000"
            ),
        ] {
            #expect(throws: ConfigurationError.self) { try AuthTokens(parsing: text) }
            do { _ = try AuthTokens(parsing: text) } catch {
                #expect(error.description.contains(message), "\(error.description)")
            }
        }
        let many = (0...AuthTokens.maxEntries).map {
            "c\($0) " + AuthTokens.hex(SHA256.hash(data: Array("\($0)".utf8)))
        }
        #expect(throws: ConfigurationError.self) { try AuthTokens(parsing: many.joined(separator: "\n")) }
    }

    @Test func aNewTokenIsAdmittedByItsLineAndNoOtherTokenIs() throws {
        let (token, line) = try AuthTokens.newToken(client: "carol")
        #expect(token.hasPrefix("wsb_") && token.utf8.count >= 40)
        let (other, otherLine) = try AuthTokens.newToken(client: "dave")
        #expect(token != other)
        let tokens = try AuthTokens(parsing: line + "\n" + otherLine)
        #expect(tokens.entry(forToken: token)?.client == "carol")
        #expect(tokens.entry(forToken: other)?.client == "dave")
        #expect(tokens.entry(forToken: token + "x") == nil)
        #expect(tokens.entry(forToken: "") == nil)
        #expect(throws: ConfigurationError.self) { try AuthTokens.newToken(client: "anonymous") }
        #expect(throws: ConfigurationError.self) { try AuthTokens.newToken(client: "a b") }
    }

    /// Missing, wrong and revoked tokens get 401 with the challenge the MCP authorization
    /// spec asks for, before anything runs or is logged as a call.
    @Test func requestsWithoutAValidTokenAreRefusedBeforeAnythingRuns() async throws {
        let running = try await RunningHTTPServer { _ in }
        defer { running.task.cancel() }
        let port = running.port
        let session = try await RawConnection.openSession(port: port)
        let bobSession = try await RawConnection.openSession(port: port, token: bob)
        let run = ["language": "javascript", "code": "console.log('ran')"]
        for token in [nil, "wrong-token", alice + "x"] as [String?] {
            let refused = try await RawCall.call(port: port, session: session, token: token, arguments: run)
            #expect(refused.status == 401, "\(refused.response.prefix(300))")
            let challenge = refused.response.split(separator: "\r\n").first {
                $0.lowercased().hasPrefix("www-authenticate:")
            }
            #expect(
                challenge?.contains(
                    #"Bearer realm="wasm-sandbox", resource_metadata="http://127.0.0.1/.well-known/oauth-protected-resource/mcp""#
                ) == true, "\(challenge ?? "no challenge")")
            #expect((challenge?.contains(#"error="invalid_token""#) == true) == (token != nil))
        }
        // Another scheme is no bearer token: a challenge without an error, as for none.
        let basic = try RawConnection(port: port)
        basic.send(
            RawConnection.head(session: session, token: nil, close: true)
                + "Authorization: Basic YWxpY2U6eA==\r\nContent-Length: 2\r\n\r\n{}")
        let basicAnswer = await basic.read().text
        #expect(basicAnswer.hasPrefix("HTTP/1.1 401 Unauthorized"))
        #expect(!basicAnswer.contains("invalid_token") && basicAnswer.contains("resource_metadata="))
        let revokedBefore = try await RawCall.call(port: port, session: bobSession, token: bob, arguments: run)
        #expect(revokedBefore.status == 200 && revokedBefore.structured["stdout"] as? String == "ran\n")
        try running.replaceTokens(["alice \(alice)"])
        let revoked = try await RawCall.call(port: port, session: bobSession, token: bob, arguments: run)
        #expect(revoked.status == 401)
        #expect(revoked.response.contains("the bearer token is not valid"))
        // Two Authorization headers are a malformed request.
        let connection = try RawConnection(port: port)
        let body = RawConnection.initialize
        connection.send(
            RawConnection.head(close: true)
                + "Authorization: Bearer \(alice)\r\nContent-Length: \(body.utf8.count)\r\n\r\n"
                + body)
        #expect(await connection.read().text.hasPrefix("HTTP/1.1 400 Bad Request"))
        // So is a token past 1 KiB: it is refused before it is hashed.
        let huge = try await RawConnection.request(
            port: port, token: String(repeating: "t", count: 2_000), body: RawConnection.initialize)
        #expect(huge.hasPrefix("HTTP/1.1 400 Bad Request") && huge.contains("at most 1024 bytes"))
        // Only bob's call before his token went ran.
        #expect(running.audit.calls.count == 1)
        let failures = running.audit.all.filter { $0.string("event") == "auth_failure" }
        #expect(
            failures.map { $0.string("reason") } == [
                "auth_missing", "auth_invalid", "auth_invalid", "auth_missing", "auth_invalid", "auth_invalid",
                "auth_invalid",
            ])
        let metrics = try await running.server.service.call("sandbox_metrics", arguments: nil)
        #expect(metrics.structuredContent?.objectValue?["by_status"] == ["ok": 1])
        // The resource metadata is open, and names the endpoint.
        let metadata = try await RawConnection.request(
            port: port, method: "GET", token: nil, body: "", path: "/.well-known/oauth-protected-resource/mcp")
        #expect(metadata.hasPrefix("HTTP/1.1 200 OK"))
        #expect(metadata.contains(#""resource":"http://127.0.0.1/mcp""#), "\(metadata)")
    }

    /// A 401 on a connection kept alive leaves it usable: the unread body is skipped.
    @Test func aRefusedRequestsBodyDoesNotDerailTheConnection() async throws {
        let running = try await RunningHTTPServer { _ in }
        defer { running.task.cancel() }
        let connection = try RawConnection(port: running.port)
        let body = String(repeating: " ", count: 200_000) + RawConnection.initialize
        connection.send(RawConnection.head(token: "nope") + "Content-Length: \(body.utf8.count)\r\n\r\n" + body)
        connection.send(RawConnection.head(close: true) + "Content-Length: \(body.utf8.count)\r\n\r\n" + body)
        let text = await connection.read().text
        #expect(text.hasPrefix("HTTP/1.1 401 Unauthorized"), "\(text.prefix(200))")
        #expect(text.contains("HTTP/1.1 200 OK"), "\(text.prefix(600))")
        #expect(text.lowercased().contains("mcp-session-id:"))
    }

    /// A session id is no capability: another client's request for it finds nothing.
    @Test func aSessionAnswersOnlyTheClientThatOpenedIt() async throws {
        let running = try await RunningHTTPServer { _ in }
        defer { running.task.cancel() }
        let session = try await RawConnection.openSession(port: running.port)
        let stolen = try await RawCall.javascript(port: running.port, session: session, token: bob, "1")
        #expect(stolen.status == 404, "\(stolen.response.prefix(300))")
        #expect(stolen.response.contains("no such session"))
        let own = try await RawCall.javascript(port: running.port, session: session, token: alice, "1")
        #expect(own.status == 200 && own.structured["status"] as? String == "ok")
        #expect(
            running.audit.all.contains {
                $0.string("reason") == "session_of_another_client" && $0.string("client") == "bob"
            })
    }

    /// Tokens are reloaded while a client's session keeps working through it: every call of
    /// the session sees the state of the one before, new clients get in, revoked ones do not,
    /// and a file that does not parse changes nothing.
    @Test func reloadingTheTokensUnderLoadDropsNoSession() async throws {
        let running = try await RunningHTTPServer { _ in }
        defer { running.task.cancel() }
        let port = running.port
        let session = try await RawConnection.openSession(port: port)
        let carol = "carol-test-token"
        let values = try await withThrowingTaskGroup(of: [String].self) { group in
            group.addTask {
                var seen: [String] = []
                for _ in 0..<40 {
                    let call = try await RawCall.javascript(
                        port: port, session: session, token: alice, "globalThis.n = (globalThis.n ?? 0) + 1; n",
                        extra: ["session_id": "counter"])
                    seen.append(call.structured["value"] as? String ?? "status \(call.status): \(call.text)")
                }
                return seen
            }
            group.addTask {
                for round in 0..<20 {
                    let lines =
                        round.isMultiple(of: 2)
                        ? ["alice \(alice)", "carol \(carol)"] : ["alice \(alice)", "bob \(bob)"]
                    try running.replaceTokens(lines)
                    try await Task.sleep(for: .milliseconds(5))
                }
                return []
            }
            return try await group.reduce(into: []) { $0 += $1 }
        }
        #expect(values == (1...40).map(String.init))
        // The last reload left alice and bob: carol is out, bob is in.
        #expect(
            try await RawConnection.request(port: port, token: carol, body: RawConnection.initialize).hasPrefix(
                "HTTP/1.1 401"))
        #expect(try await RawConnection.openSession(port: port, token: bob).count == 36)
        // A broken file is refused by name and leaves the tokens as they were.
        try "alice not-a-hash\n".write(toFile: running.tokensFile, atomically: true, encoding: .utf8)
        #expect(throws: ConfigurationError.self) { try running.server.reloadTokens() }
        let still = try await RawCall.javascript(
            port: port, session: session, token: alice, "n", extra: ["session_id": "counter"])
        #expect(still.structured["value"] as? String == "40")
    }

    @Test func aClientOverItsCallQuotaIsRefusedWhileAnotherKeepsFullService() async throws {
        let running = try await RunningHTTPServer(aliceAnd: "greedy greedy-token calls_per_minute=3") {
            // Long enough that the refusal below comes within the window on a busy machine.
            $0.quotaWindowSeconds = 10
        }
        defer { running.task.cancel() }
        let port = running.port
        let greedy = try await RawConnection.openSession(port: port, token: "greedy-token")
        let other = try await RawConnection.openSession(port: port)
        for _ in 0..<3 {
            let call = try await RawCall.javascript(port: port, session: greedy, token: "greedy-token", "1")
            #expect(call.structured["status"] as? String == "ok")
        }
        let refused = try await RawCall.javascript(port: port, session: greedy, token: "greedy-token", "1")
        #expect(refused.status == 200 && refused.isError)
        #expect(refused.structured["status"] as? String == "busy")
        #expect(refused.text.hasPrefix("status: busy: client quota 'calls_per_minute' (3) is used up: it resets in "))
        let quota = refused.structured["quota"] as? [String: Any]
        #expect(quota?["name"] as? String == "calls_per_minute" && quota?["limit"] as? Int == 3)
        #expect((quota?["resets_in_seconds"] as? Double).map { $0 > 0 && $0 <= 10 } == true)
        for index in 0..<10 {
            let call = try await RawCall.javascript(port: port, session: other, token: alice, "console.log(\(index))")
            #expect(call.structured["stdout"] as? String == "\(index)\n")
        }
        // Its window over, the greedy client is served again.
        #expect(
            try await eventually {
                let call = try? await RawCall.javascript(
                    port: port, session: greedy, token: "greedy-token", "console.log(2)")
                return call?.structured["stdout"] as? String == "2\n"
            })
        let lines = running.audit.calls.filter { $0.string("quota") == "calls_per_minute" }
        #expect(
            lines.count >= 1 && lines.allSatisfy { $0.string("client") == "greedy" && $0.string("status") == "busy" })
    }

    /// One client cannot push out the MCP sessions of another by opening many: at the
    /// server's cap the client holding the most loses its oldest idle one, and at its own
    /// quota a client loses its own.
    @Test func aClientsSessionsNeverPushOutAnothersWhoHoldsFewer() async throws {
        let running = try await RunningHTTPServer(tokens: [
            "alice \(RunningHTTPServer.tokens["alice"]!) sessions=2", "bob \(RunningHTTPServer.tokens["bob"]!)",
        ]) { $0.maxSessions = 4 }
        defer { running.task.cancel() }
        let port = running.port
        let first = try await RawConnection.openSession(port: port)
        var bobs: [String] = []
        for _ in 0..<6 { bobs.append(try await RawConnection.openSession(port: port, token: bob)) }
        #expect(await running.server.openSessions == 4)
        let kept = try await RawCall.javascript(port: port, session: first, token: alice, "console.log(1)")
        #expect(kept.status == 200 && kept.structured["stdout"] as? String == "1\n", "\(kept.response.prefix(300))")
        let evicted = try await RawCall.javascript(port: port, session: bobs[0], token: bob, "1")
        #expect(evicted.status == 404)
        // Alice's second fits under the cap by closing one of bob's; her third closes her first.
        let second = try await RawConnection.openSession(port: port)
        let third = try await RawConnection.openSession(port: port)
        #expect(try await RawCall.javascript(port: port, session: first, token: alice, "1").status == 404)
        for session in [second, third] {
            #expect(try await RawCall.javascript(port: port, session: session, token: alice, "1").status == 200)
        }
        // With both of hers busy (an open event stream each), a third is refused, by name.
        var streams: [RawConnection] = []
        for session in [second, third] {
            let (stream, head) = try await RawConnection.eventStream(port: port, session: session)
            #expect(head.hasPrefix("HTTP/1.1 200"))
            streams.append(stream)
        }
        let refused = try await RawConnection.request(port: port, body: RawConnection.initialize)
        #expect(refused.hasPrefix("HTTP/1.1 429"), "\(refused.prefix(300))")
        #expect(refused.contains("client quota 'sessions' (2) is used up"))
        #expect(try await RawConnection.openSession(port: port, token: bob).count == 36)
        withExtendedLifetime(streams) {}
    }

    /// Opens that arrive together are counted while they wait: neither a client's quota nor
    /// the server's cap is overshot, and a client holding fewer keeps its sessions.
    @Test func concurrentInitializesOvershootNoCap() async throws {
        let running = try await RunningHTTPServer(tokens: [
            "alice \(RunningHTTPServer.tokens["alice"]!) sessions=3", "bob \(RunningHTTPServer.tokens["bob"]!)",
            "carol carol-token",
        ]) { $0.maxSessions = 6 }
        defer { running.task.cancel() }
        let port = running.port
        let bobs = [try await RawConnection.openSession(port: port, token: bob)]
        let opened = try await withThrowingTaskGroup(of: String.self) { group in
            for index in 0..<40 {
                group.addTask {
                    try await RawConnection.openSession(
                        port: port, token: index.isMultiple(of: 2) ? "carol-token" : RunningHTTPServer.tokens["alice"])
                }
            }
            return try await group.reduce(into: []) { $0.append($1) }
        }
        #expect(await running.server.openSessions <= 6)
        var alive: [String: Int] = [:]
        for token in ["carol-token", alice] {
            for session in opened {
                let call = try await RawCall.javascript(port: port, session: session, token: token, "1")
                if call.status == 200 { alive[token, default: 0] += 1 }
            }
        }
        #expect((alive[alice] ?? 0) <= 3, "\(alive)")
        // Bob's one and the survivors of the burst fit under the cap of 6.
        #expect(alive.values.reduce(1, +) <= 6, "\(alive)")
        #expect(try await RawCall.javascript(port: port, session: bobs[0], token: bob, "1").status == 200)
    }

    /// A client whose own sessions are all busy cannot take the idle session of a client
    /// holding fewer: it is refused instead.
    @Test func aClientHoldingTheMostCannotTakeAnothersSessionByKeepingItsOwnBusy() async throws {
        let running = try await RunningHTTPServer { $0.maxSessions = 4 }
        defer { running.task.cancel() }
        let port = running.port
        let bobs = try await RawConnection.openSession(port: port, token: bob)
        var streams: [RawConnection] = []
        for _ in 0..<3 {
            let session = try await RawConnection.openSession(port: port)
            let (stream, head) = try await RawConnection.eventStream(port: port, session: session)
            #expect(head.hasPrefix("HTTP/1.1 200"))
            streams.append(stream)
        }
        let refused = try await RawConnection.request(port: port, body: RawConnection.initialize)
        #expect(refused.hasPrefix("HTTP/1.1 503"), "\(refused.prefix(300))")
        #expect(try await RawCall.javascript(port: port, session: bobs, token: bob, "1").status == 200)
        withExtendedLifetime(streams) {}
    }

    @Test func aClientsCodeSessionsAreCappedWithoutClosingAnothers() async throws {
        let running = try await RunningHTTPServer(aliceAnd: "carol carol-token code_sessions=1") {
            $0.maxCodeSessions = 2
        }
        defer { running.task.cancel() }
        let port = running.port
        let mine = try await RawConnection.openSession(port: port)
        let kept = try await RawCall.javascript(
            port: port, session: mine, token: alice, "var kept = 7", extra: ["session_id": "notes"])
        #expect(kept.structured["status"] as? String == "ok")
        let carol = try await RawConnection.openSession(port: port, token: "carol-token")
        let other = try await RawConnection.openSession(port: port, token: "carol-token")
        let a = try await RawCall.javascript(
            port: port, session: carol, token: "carol-token", "1", extra: ["session_id": "a"])
        #expect(a.structured["status"] as? String == "ok")
        // Another of carol's MCP sessions counts too: the quota is the client's.
        let b = try await RawCall.javascript(
            port: port, session: other, token: "carol-token", "1", extra: ["session_id": "b"])
        #expect(b.isError && b.structured["status"] as? String == "busy")
        #expect(
            b.text.contains(
                "client quota 'code_sessions' (1) is used up: close one of its sessions (close_session) first"),
            "\(b.text)")
        let still = try await RawCall.javascript(
            port: port, session: mine, token: alice, "kept", extra: ["session_id": "notes"])
        #expect(still.structured["value"] as? String == "7")
        _ = try await RawCall.call(
            port: port, session: carol, token: "carol-token", tool: "close_session", arguments: ["session_id": "a"])
        let afterClose = try await RawCall.javascript(
            port: port, session: other, token: "carol-token", "2", extra: ["session_id": "b"])
        #expect(afterClose.structured["status"] as? String == "ok", "\(afterClose.text)")
    }

    /// At the sandbox's code-session cap a client's new session closes its own oldest, not
    /// that of a client holding fewer.
    @Test func aClientsNewCodeSessionsCloseItsOwnNotAnothers() async throws {
        let running = try await RunningHTTPServer { $0.maxCodeSessions = 2 }
        defer { running.task.cancel() }
        let port = running.port
        let mine = try await RawConnection.openSession(port: port)
        _ = try await RawCall.javascript(
            port: port, session: mine, token: alice, "var kept = 7", extra: ["session_id": "notes"])
        let bobs = try await RawConnection.openSession(port: port, token: bob)
        for name in ["a", "b", "c"] {
            let call = try await RawCall.javascript(
                port: port, session: bobs, token: bob, "1", extra: ["session_id": name])
            #expect(call.structured["status"] as? String == "ok", "\(call.text)")
        }
        let still = try await RawCall.javascript(
            port: port, session: mine, token: alice, "kept", extra: ["session_id": "notes"])
        #expect(still.structured["value"] as? String == "7", "\(still.text)")
    }

    @Test func aClientAtItsConcurrentRunsIsRefusedWhileAnotherRuns() async throws {
        let running = try await RunningHTTPServer(aliceAnd: "greedy greedy-token concurrent_runs=1")
        defer { running.task.cancel() }
        let port = running.port
        let service = running.server.service
        let greedy = try await RawConnection.openSession(port: port, token: "greedy-token")
        let other = try await RawConnection.openSession(port: port)
        let connection = try RawConnection(port: port)
        let long =
            #"{"jsonrpc":"2.0","id":4,"method":"tools/call","params":{"name":"execute_code","arguments":{"language":"javascript","code":"for (;;) {}","timeout_ms":60000}}}"#
        connection.send(
            RawConnection.head(session: greedy, token: "greedy-token") + "Content-Length: \(long.utf8.count)\r\n\r\n"
                + long)
        #expect(try await eventually { service.callsInFlight == 1 })
        let refused = try await RawCall.javascript(port: port, session: greedy, token: "greedy-token", "1")
        #expect(refused.structured["status"] as? String == "busy")
        #expect(
            refused.text.contains(
                "client quota 'concurrent_runs' (1) is used up: a slot frees when one of its runs ends"))
        let served = try await RawCall.javascript(port: port, session: other, token: alice, "console.log('alongside')")
        #expect(served.structured["stdout"] as? String == "alongside\n")
        shutdown(connection.fd, Int32(SHUT_RDWR))
        #expect(try await eventually { service.callsInFlight == 0 })
        let again = try await RawCall.javascript(
            port: port, session: greedy, token: "greedy-token", "console.log('again')")
        #expect(again.structured["stdout"] as? String == "again\n")
    }

    /// Run time is held against the budget as a run starts: a run may not outlast what is
    /// left of it, and with nothing left the next run is refused.
    @Test func aClientsRunTimeQuotaCutsItsTimeoutThenRefuses() async throws {
        let running = try await RunningHTTPServer(aliceAnd: "greedy greedy-token cpu_seconds_per_minute=1")
        defer { running.task.cancel() }
        let port = running.port
        let greedy = try await RawConnection.openSession(port: port, token: "greedy-token")
        let spin = try await RawCall.javascript(
            port: port, session: greedy, token: "greedy-token", "for (;;) {}", extra: ["timeout_ms": 20_000])
        #expect(spin.structured["status"] as? String == "timed_out", "\(spin.text)")
        let limits = spin.structured["limits"] as? [String: Any]
        #expect((limits?["timeout_ms"] as? Int).map { $0 <= 1_000 } == true, "\(limits ?? [:])")
        #expect((limits?["clamped"] as? [String])?.contains("timeout_ms") == true)
        let refused = try await RawCall.javascript(port: port, session: greedy, token: "greedy-token", "1")
        #expect(refused.structured["status"] as? String == "busy")
        #expect(refused.text.contains("client quota 'cpu_seconds_per_minute' (1) is used up: it resets in "))
        let other = try await RawConnection.openSession(port: port)
        let served = try await RawCall.javascript(port: port, session: other, token: alice, "console.log('fine')")
        #expect(served.structured["stdout"] as? String == "fine\n")
    }

    /// One line per call, naming who ran what and how it ended; the code itself only when
    /// the operator asked for it.
    @Test(arguments: [false, true])
    func everyCallHasOneAuditLine(withCode: Bool) async throws {
        let running = try await RunningHTTPServer { $0.auditCode = withCode }
        defer { running.task.cancel() }
        let port = running.port
        let session = try await RawConnection.openSession(port: port)
        let code = "console.log('marker-' + 'x'.repeat(3)); 6 * 7"
        _ = try await RawCall.javascript(port: port, session: session, token: alice, code)
        _ = try await RawCall.javascript(port: port, session: session, token: alice, "throw new Error('no')")
        _ = try await RawCall.call(port: port, session: session, token: alice, tool: "list_sessions", arguments: [:])
        _ = try await RawCall.call(
            port: port, session: session, token: alice, arguments: ["language": "cobol", "code": "x"])
        let calls = running.audit.calls
        #expect(calls.map { $0.string("tool") } == ["execute_code", "execute_code", "list_sessions", "execute_code"])
        #expect(calls.allSatisfy { $0.string("client") == "alice" && $0.string("session") == session })
        #expect(calls.map { $0.string("status") } == ["ok", "exited", "ok", "invalid_input"])
        let first = calls[0]
        #expect(first.string("language") == "javascript")
        #expect(first.string("code_sha256") == AuthTokens.hex(SHA256.hash(data: Array(code.utf8))))
        #expect(first.string("code_bytes") == "\(code.utf8.count)")
        #expect(first.string("stdout_bytes") == "\("marker-xxx\n".utf8.count)")
        #expect(first.string("bytes_out").flatMap(Int.init).map { $0 >= 11 } == true)
        #expect(first.string("duration_ms").flatMap(Double.init) != nil)
        #expect(first.string("elapsed_ms").flatMap(Double.init) != nil)
        if case .dictionary(let limits)? = first.metadata["limits"] {
            #expect(limits["timeout_ms"] != nil && limits["memory_mb"] != nil)
            // No fuel was asked for: no field, rather than the text "null".
            #expect(limits["fuel"] == nil, "\(limits)")
        } else {
            Issue.record("no limits in \(first.metadata)")
        }
        #expect((first.string("code") == code) == withCode)
        #expect(calls.contains { "\($0.metadata)".contains("marker-") } == withCode)
    }

    /// A client's names in the audit line are cut by bytes and kept on one line: a letter
    /// with a hundred thousand combining marks, or a newline that would forge a line.
    @Test func clientTextInTheAuditLineIsShortAndOnOneLine() async throws {
        let running = try await RunningHTTPServer { _ in }
        defer { running.task.cancel() }
        let session = try await RawConnection.openSession(port: running.port)
        let long = "x" + String(repeating: "\u{301}", count: 100_000)
        _ = try await RawCall.call(
            port: running.port, session: session, token: alice, tool: long, arguments: [:])
        _ = try await RawCall.javascript(
            port: running.port, session: session, token: alice, "1",
            extra: ["session_id": "s\n2026-12-04 info client=root event=call", "language": "javascript\r\nforged"])
        let calls = running.audit.calls
        #expect(calls.count == 2)
        #expect((calls[0].string("tool")?.utf8.count ?? 0) <= 64)
        #expect(calls[1].string("code_session")?.contains("\n") == false)
        #expect(calls[1].string("language")?.contains("\r") == false)
    }

    @Test func anExposedAddressNeedsTokensOrAnExplicitChoice() async throws {
        #expect(MCPHTTPServer.isLoopback("127.0.0.1") && MCPHTTPServer.isLoopback("127.8.9.10"))
        #expect(MCPHTTPServer.isLoopback("localhost") && MCPHTTPServer.isLoopback("::1"))
        #expect(!MCPHTTPServer.isLoopback("0.0.0.0") && !MCPHTTPServer.isLoopback("10.0.0.1"))
        #expect(!MCPHTTPServer.isLoopback("127.0.0.1.example.com") && !MCPHTTPServer.isLoopback("::"))
        let service = try SandboxMCPServer()
        let exposed = try MCPHTTPServer(
            service: service, host: "0.0.0.0", port: 0, prometheus: nil, logger: .init(label: "t"))
        await #expect(throws: ConfigurationError.self) { try await exposed.run() }
        do { try await exposed.run() } catch {
            #expect("\(error)".contains("refusing to serve 0.0.0.0 without authentication"))
            #expect("\(error)".contains("--allow-unauthenticated"))
        }
        var allowed = MCPServerConfiguration()
        allowed.allowUnauthenticated = true
        let open = try MCPHTTPServer(
            service: try SandboxMCPServer(configuration: allowed), host: "0.0.0.0", port: 0, prometheus: nil,
            logger: .init(label: "t"))
        let (ports, continuation) = AsyncStream<Int>.makeStream()
        let task = Task { try await open.run { continuation.yield($0) } }
        defer { task.cancel() }
        var iterator = ports.makeAsyncIterator()
        let port = await iterator.next() ?? 0
        #expect(port > 0)
        let health = try await RawConnection.request(port: port, method: "GET", token: nil, path: "/health")
        #expect(health.hasPrefix("HTTP/1.1 200 OK"))
    }

    @Test func metricsCanHaveTokensOfTheirOwnAndHealthStaysOpen() async throws {
        let metricsFile = FileManager.default.temporaryDirectory.appendingPathComponent("metrics-\(UUID().uuidString)")
            .path
        try RunningHTTPServer.tokensText(["prometheus scrape-token"]).write(
            toFile: metricsFile, atomically: true, encoding: .utf8)
        let running = try await RunningHTTPServer { $0.metricsTokensFile = metricsFile }
        defer { running.task.cancel() }
        let port = running.port
        for token in [nil, alice] as [String?] {
            let refused = try await RawConnection.request(port: port, method: "GET", token: token, path: "/metrics")
            #expect(refused.hasPrefix("HTTP/1.1 401 Unauthorized"), "\(refused.prefix(200))")
            #expect(refused.lowercased().contains("www-authenticate: bearer"))
        }
        let scraped = try await RawConnection.request(
            port: port, method: "GET", token: "scrape-token", path: "/metrics")
        #expect(scraped.hasPrefix("HTTP/1.1 200 OK"))
        let health = try await RawConnection.request(port: port, method: "GET", token: nil, path: "/health")
        #expect(health.hasPrefix("HTTP/1.1 200 OK"))
    }
}
