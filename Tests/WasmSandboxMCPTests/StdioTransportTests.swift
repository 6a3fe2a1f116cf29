import Foundation
import MCP
import Synchronization
import Testing

@testable import WasmSandboxMCP

@Suite("stdio line splitting")
struct LineSplitterTests {
    /// Feeds `chunks` and returns what came out, messages as text.
    func split(_ chunks: [String], max: Int = 1 << 20) -> [String] {
        var splitter = LineSplitter(maxMessageBytes: max)
        var out: [String] = []
        for chunk in chunks {
            Array(chunk.utf8).withUnsafeBytes { bytes in
                splitter.consume(bytes) { event in
                    switch event {
                    case .message(let data): out.append(String(decoding: data, as: UTF8.self))
                    case .oversized(let dropped):
                        let id: String =
                            switch dropped.id {
                            case .number(let number): "\(number)"
                            case .string(let text): "'\(text)'"
                            case nil: "none"
                            }
                        out.append("oversized \(dropped.bytes) id \(id)")
                    }
                }
            }
        }
        return out
    }

    @Test func messagesSplitAnywhereComeOutWhole() {
        #expect(
            split(["{\"a\":1}\n{\"b\"", ":2}\n{", "\"c\":3}\r\n", "\n  \n"]) == ["{\"a\":1}", "{\"b\":2}", "{\"c\":3}"])
        // Byte by byte.
        let text = "{\"x\":\"ü\"}\n{\"y\":2}\n"
        var bytes: [String] = []
        for scalar in text.unicodeScalars { bytes.append(String(scalar)) }
        #expect(split(bytes) == ["{\"x\":\"ü\"}", "{\"y\":2}"])
        #expect(split(["{\"unterminated\":1}"]).isEmpty)
    }

    @Test func anOversizedMessageIsDroppedWithItsIdAndTheNextOneStillArrives() {
        let big =
            "{\"jsonrpc\":\"2.0\",\"id\":42,\"method\":\"tools/call\",\"params\":{\"x\":\""
            + String(repeating: "y", count: 5000)
        #expect(
            split([big, "\"}}\n{\"ok\":1}\n"], max: 1000) == ["oversized \(big.utf8.count + 3) id 42", "{\"ok\":1}"])
        let named = "{\"id\": \"req-7\", \"params\":\"" + String(repeating: "z", count: 2000) + "\"}\n"
        #expect(split([named], max: 1000) == ["oversized \(named.utf8.count - 1) id 'req-7'"])
        #expect(split([String(repeating: "q", count: 2000) + "\n"], max: 1000) == ["oversized 2000 id none"])
        // Exactly at the limit is accepted.
        #expect(split([String(repeating: "a", count: 1000) + "\n"], max: 1000).first?.count == 1000)
    }

    @Test(
        arguments: [
            (#"{"jsonrpc":"2.0","id":7,"method":"x"}"#, ID.number(7)),
            (#"{"method":"x","params":{"id":99,"list":[{"id":1}],"s":"\"id\":5"},"id":-3}"#, ID.number(-3)),
            (#"{ "params" : { "text" : "}]\\\"{" } , "id" : "abc-1" }"#, ID.string("abc-1")),
            (#"{"idx":1,"xid":2,"id":12345678901}"#, ID.number(12_345_678_901)),
            (#"{"i\"d":666,"id":8}"#, ID.number(8)),
        ])
    func theTopLevelIdIsFoundWhereverItIs(message: String, id: ID) {
        var scanner = TopLevelIDScanner()
        scanner.scan(Array(message.utf8))
        scanner.finish()
        #expect(scanner.id == id)
    }

    @Test func messagesWithoutAUsableIdGetNone() {
        for message in [
            #"{"method":"notify","params":{"id":1}}"#, #"{"id":null}"#, #"{"id":"with \"escape\""}"#, #"[{"id":1}]"#,
            #"{"id":9.5}"#, #"{"id":1e3}"#, #"{"id":true}"#,
        ] {
            var scanner = TopLevelIDScanner()
            scanner.scan(Array(message.utf8))
            scanner.finish()
            #expect(scanner.id == nil, "\(message)")
        }
    }

    @Test func theErrorAnswerIsJSONRPC() throws {
        let dropped = LineSplitter.Oversized(bytes: 20_000_000, limit: 16 << 20, id: .number(3))
        let object = try #require(try JSONSerialization.jsonObject(with: dropped.errorResponse) as? [String: Any])
        #expect(object["id"] as? Int == 3)
        let error = try #require(object["error"] as? [String: Any])
        #expect(error["code"] as? Int == -32600)
        #expect((error["message"] as? String)?.contains("MCP_SANDBOX_MAX_MESSAGE_BYTES") == true)
    }
}

/// The server process over stdio, driven by a raw JSON-RPC client: one message per line.
@Suite("MCP server's own stdio transport")
struct StdioTransportTests {
    /// Its pipe reads and writes block, so each runs on a thread of its own (``onThread(_:)``):
    /// never on the few threads of Swift's cooperative pool, which the other tests share.
    final class RawClient: @unchecked Sendable {
        let process = Process()
        let toServer = Pipe()
        let fromServer = Pipe()
        private var buffer = Data()

        init(environment: [String: String] = [:]) throws {
            process.executableURL = URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent()
                .appendingPathComponent("wasm-sandbox")
            process.arguments = ["serve", "--log-level", "error"]
            process.environment = ProcessInfo.processInfo.environment.merging(environment) { _, new in new }
            process.standardInput = toServer
            process.standardOutput = fromServer
            try process.run()
        }

        deinit { process.terminate() }

        func send(_ message: [String: Any]) async throws {
            var data = try JSONSerialization.data(withJSONObject: message)
            data.append(UInt8(ascii: "\n"))
            try await sendRaw(data)
        }

        func sendRaw(_ data: Data) async throws {
            let handle = toServer.fileHandleForWriting
            try await onThread { try handle.write(contentsOf: data) }
        }

        /// The next message from the server.
        func receive() async throws -> [String: Any] {
            let line = try await onThread { try self.receiveLine() }
            return try #require(try JSONSerialization.jsonObject(with: line) as? [String: Any])
        }

        private func receiveLine() throws -> Data {
            while true {
                if let newline = buffer.firstIndex(of: UInt8(ascii: "\n")) {
                    let line = Data(buffer[buffer.startIndex..<newline])
                    buffer = Data(buffer[buffer.index(after: newline)...])
                    return line
                }
                let chunk = fromServer.fileHandleForReading.availableData
                guard !chunk.isEmpty else { throw CancellationError() }
                buffer.append(chunk)
            }
        }

        func initialize() async throws {
            try await send([
                "jsonrpc": "2.0", "id": 0, "method": "initialize",
                "params": [
                    "protocolVersion": "2025-06-18", "capabilities": [String: Any](),
                    "clientInfo": ["name": "raw", "version": "1"],
                ],
            ])
            _ = try await receive()
            try await send(["jsonrpc": "2.0", "method": "notifications/initialized"])
        }

        func call(_ id: Int, _ tool: String, _ arguments: [String: Any]) async throws {
            try await send([
                "jsonrpc": "2.0", "id": id, "method": "tools/call", "params": ["name": tool, "arguments": arguments],
            ])
        }
    }

    @Test func aCancelledCallGetsNoAnswerAndItsRunStops() async throws {
        let client = try RawClient(environment: ["MCP_SANDBOX_MAX_TIMEOUT_MS": "600000"])
        try await client.initialize()
        try await client.call(
            5, "execute_code", ["language": "javascript", "code": "for (;;) {}", "timeout_ms": 600_000])
        try await client.send([
            "jsonrpc": "2.0", "method": "notifications/cancelled", "params": ["requestId": 5, "reason": "test"],
        ])
        // Every answer below is for the request just sent, never for request 5; the run stops
        // (it would otherwise spin for ten minutes), so the server has nothing in flight.
        var inFlight: Int?
        for id in 6...1_000 {
            try await client.call(id, "sandbox_metrics", [:])
            let answer = try await client.receive()
            #expect(answer["id"] as? Int == id, "\(answer)")
            let metrics = (answer["result"] as? [String: Any])?["structuredContent"] as? [String: Any]
            inFlight = metrics?["in_flight"] as? Int
            if inFlight == 0 { break }
            try await Task.sleep(for: .milliseconds(50))
        }
        #expect(inFlight == 0)
        try await client.call(2_000, "sandbox_metrics", [:])
        #expect(try await client.receive()["id"] as? Int == 2_000)
    }

    @Test func anOversizedRequestIsRefusedByIdAndTheServerGoesOn() async throws {
        let client = try RawClient(environment: ["MCP_SANDBOX_MAX_MESSAGE_BYTES": "100000"])
        try await client.initialize()
        try await client.call(
            9, "execute_code", ["language": "javascript", "code": String(repeating: "1;", count: 100_000)])
        let refusal = try await client.receive()
        #expect(refusal["id"] as? Int == 9)
        let error = try #require(refusal["error"] as? [String: Any])
        #expect(error["code"] as? Int == -32600)
        #expect((error["message"] as? String)?.contains("limit of 100000 bytes") == true)
        try await client.call(10, "execute_code", ["language": "javascript", "code": "console.log('after')"])
        let after = try await client.receive()
        #expect(
            ((after["result"] as? [String: Any])?["structuredContent"] as? [String: Any])?["stdout"] as? String
                == "after\n")
    }

    @Test func malformedJSONIsAnsweredWithItsIdAndWhatIsWrong() async throws {
        let client = try RawClient()
        try await client.initialize()
        try await client.sendRaw(Data(#"{"jsonrpc":"2.0","id":3,"method":"ping""#.utf8 + [0x0A]))
        try await client.sendRaw(
            Data(("{\"id\":\"deep\",\"params\":" + String(repeating: "[", count: 2000) + "\n").utf8))
        try await client.sendRaw(Data("{bad\n".utf8))
        var answers: [[String: Any]] = []
        for _ in 0..<3 { answers.append(try await client.receive()) }
        let messages = answers.map { ($0["error"] as? [String: Any])?["message"] as? String ?? "" }
        #expect(answers.map { $0["id"] as? Int } == [3, nil, nil])
        #expect(answers[1]["id"] as? String == "deep" && answers[2]["id"] is NSNull)
        #expect(answers.allSatisfy { ($0["error"] as? [String: Any])?["code"] as? Int == -32700 })
        #expect(messages[0].contains("Unexpected end of file"))
        #expect(messages[1].contains("Too many nested arrays or dictionaries"))
        #expect(messages[2].contains("Invalid value"))
        try await client.send(["jsonrpc": "2.0", "id": 4, "method": "ping"])
        #expect(try await client.receive()["id"] as? Int == 4)
    }

    /// A call whose id an earlier, finished call also had is still the one a cancellation
    /// reaches; a request whose id is not a string or an integer gets an answer saying so.
    @Test func idsAreMatchedExactly() async throws {
        let client = try RawClient(environment: ["MCP_SANDBOX_MAX_TIMEOUT_MS": "600000"])
        try await client.initialize()
        try await client.call(9, "execute_code", ["language": "javascript", "code": "console.log('first')"])
        #expect(try await client.receive()["id"] as? Int == 9)
        try await client.call(
            9, "execute_code", ["language": "javascript", "code": "for (;;) {}", "timeout_ms": 600_000])
        try await client.send(["jsonrpc": "2.0", "method": "notifications/cancelled", "params": ["requestId": 9]])
        var inFlight: Int?
        for id in 10...1_000 {
            try await client.call(id, "sandbox_metrics", [:])
            let answer = try await client.receive()
            #expect(answer["id"] as? Int == id, "\(answer)")
            inFlight =
                ((answer["result"] as? [String: Any])?["structuredContent"] as? [String: Any])?["in_flight"] as? Int
            if inFlight == 0 { break }
            try await Task.sleep(for: .milliseconds(50))
        }
        #expect(inFlight == 0)
        for id: Any in [true, NSNull(), ["x": 1], 1.5] {
            try await client.send(["jsonrpc": "2.0", "id": id, "method": "ping"])
            let answer = try await client.receive()
            #expect(answer["id"] is NSNull)
            #expect((answer["error"] as? [String: Any])?["code"] as? Int == -32600, "\(answer)")
        }
    }

    @Test func concurrentAnswersNeverInterleaveAndLargeOnesArriveWhole() async throws {
        let client = try RawClient()
        try await client.initialize()
        // Requests written in one go, answers each a whole line of JSON (some of them 300 KB).
        var batch = Data()
        for id in 1...20 {
            let code = id % 2 == 0 ? "console.log('x'.repeat(300000))" : "console.log(\(id))"
            batch.append(
                try JSONSerialization.data(withJSONObject: [
                    "jsonrpc": "2.0", "id": id, "method": "tools/call",
                    "params": ["name": "execute_code", "arguments": ["language": "javascript", "code": code]],
                ]))
            batch.append(UInt8(ascii: "\n"))
        }
        try await client.sendRaw(batch)
        var seen = Set<Int>()
        for _ in 1...20 {
            let answer = try await client.receive()
            let id = try #require(answer["id"] as? Int)
            let stdout =
                ((answer["result"] as? [String: Any])?["structuredContent"] as? [String: Any])?["stdout"] as? String
            #expect(stdout == (id % 2 == 0 ? String(repeating: "x", count: 300_000) + "\n" : "\(id)\n"))
            seen.insert(id)
        }
        #expect(seen == Set(1...20))
    }
}

@Suite("stdio answers waiting to be written")
struct LineWriterTests {
    /// A client that does not read stops being read: the backlog stays bounded.
    @Test func theReaderWaitsWhileTheBacklogIsFull() async throws {
        let pipe = Pipe()
        let writer = LineWriter(output: pipe.fileHandleForWriting.fileDescriptor, backlogLimit: 1_000)
        // More than a pipe holds, so the write blocks until the other end reads.
        writer.enqueue(Data(repeating: UInt8(ascii: "x"), count: 200_000))
        let waited = Mutex(false)
        let thread = Thread {
            writer.waitForRoom()
            waited.withLock { $0 = true }
        }
        thread.start()
        try await Task.sleep(for: .milliseconds(200))
        // Nobody has read yet: the backlog is still 200,001 bytes, whatever the machine's load.
        #expect(waited.withLock { !$0 })
        let reader = pipe.fileHandleForReading
        try await onThread {
            var received = 0
            while received < 200_001 { received += reader.availableData.count }
        }
        #expect(try await eventually { waited.withLock { $0 } })
    }
}
