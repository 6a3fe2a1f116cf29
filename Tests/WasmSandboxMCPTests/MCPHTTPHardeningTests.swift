import Crypto
import Foundation
import Logging
import Synchronization
import Testing
import WasmSandboxMCP

#if canImport(Glibc)
    import Glibc
#endif

/// A Streamable HTTP server on a free loopback port, stopped by cancelling `task`.
struct RunningHTTPServer {
    let server: MCPHTTPServer
    let port: Int
    let task: Task<Void, any Error>
    /// The tokens file the server reads (`alice` and `bob` by default), for tests to rewrite.
    let tokensFile: String
    /// What the server wrote to its audit trail.
    let audit: AuditCapture

    /// The tokens of the default tokens file, by client.
    static let tokens = ["alice": "alice-test-token", "bob": "bob-test-token"]

    /// A server on a free loopback port that admits the clients of `tokens` (each line
    /// `NAME TOKEN [SETTINGS]`, the token in clear: the file gets its hash); `nil` serves
    /// without authentication.
    init(
        tokens: [String]? = ["alice alice-test-token", "bob bob-test-token"],
        _ configure: (inout MCPServerConfiguration) -> Void
    ) async throws {
        let file = FileManager.default.temporaryDirectory.appendingPathComponent("tokens-\(UUID().uuidString)").path
        var configuration = MCPServerConfiguration()
        if let tokens {
            try Self.tokensText(tokens).write(toFile: file, atomically: true, encoding: .utf8)
            configuration.authTokensFile = file
        }
        configure(&configuration)
        var logger = Logger(label: "test.http")
        // Cancelling the server task at the end of a test is logged as an error by Hummingbird.
        logger.logLevel = .critical
        let audit = AuditCapture()
        let server = try MCPHTTPServer(
            service: try SandboxMCPServer(configuration: configuration, auditLogger: audit.logger), host: "127.0.0.1",
            port: 0, prometheus: nil, logger: logger)
        let (ports, continuation) = AsyncStream<Int>.makeStream()
        task = Task { try await server.run { continuation.yield($0) } }
        var iterator = ports.makeAsyncIterator()
        self.port = await iterator.next() ?? 0
        self.server = server
        self.tokensFile = file
        self.audit = audit
    }

    /// A server that admits alice (her default token) and the client of `line`.
    init(aliceAnd line: String, _ configure: (inout MCPServerConfiguration) -> Void = { _ in }) async throws {
        try await self.init(tokens: ["alice \(Self.tokens["alice"]!)", line], configure)
    }

    /// A tokens file's text for lines `NAME TOKEN [SETTINGS]`.
    static func tokensText(_ lines: [String]) -> String {
        "# test clients\n"
            + lines.map { line in
                var fields = line.split(separator: " ").map(String.init)
                fields[1] = SHA256.hash(data: Array(fields[1].utf8)).map { String(format: "%02x", $0) }.joined()
                return fields.joined(separator: " ") + "\n"
            }.joined()
    }

    /// Replaces the tokens file and reloads it, as SIGHUP does.
    func replaceTokens(_ lines: [String]) throws {
        try Self.tokensText(lines).write(toFile: tokensFile, atomically: true, encoding: .utf8)
        try server.reloadTokens()
    }
}

/// Keeps what a logger is given, for tests to read the audit trail.
final class AuditCapture: Sendable {
    struct Line: Sendable {
        var message: String
        var metadata: Logger.Metadata
        func string(_ key: String) -> String? {
            if case .string(let text)? = metadata[key] { return text }
            if case .stringConvertible(let item)? = metadata[key] { return item.description }
            return nil
        }
    }

    private let lines = Mutex<[Line]>([])

    var all: [Line] { lines.withLock { $0 } }
    var calls: [Line] { all.filter { $0.string("event") == "call" } }

    var logger: Logger {
        Logger(label: "test.audit") { _ in Handler(capture: self) }
    }

    private struct Handler: LogHandler {
        let capture: AuditCapture
        var metadata: Logger.Metadata = [:]
        var logLevel: Logger.Level = .trace
        subscript(metadataKey key: String) -> Logger.Metadata.Value? {
            get { metadata[key] }
            set { metadata[key] = newValue }
        }
        func log(event: LogEvent) {
            let line = Line(
                message: event.message.description, metadata: metadata.merging(event.metadata ?? [:]) { $1 })
            capture.lines.withLock { $0.append(line) }
        }
    }
}

/// A loopback TCP client on raw sockets, as an attacker would hold them. Blocking reads run on
/// threads of their own, never on the cooperative pool the server needs.
final class RawConnection: @unchecked Sendable {
    let fd: Int32

    init(port: Int, receiveTimeoutSeconds: Int = 60) throws {
        fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        var timeout = timeval(tv_sec: receiveTimeoutSeconds, tv_usec: 0)
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = in_port_t(UInt16(port).bigEndian)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        let result = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size))
            }
        }
        guard result == 0 else { throw POSIXError(.ECONNREFUSED) }
    }

    deinit { close(fd) }

    func send(_ text: String) {
        let bytes = Array(text.utf8)
        _ = bytes.withUnsafeBytes { Glibc.send(fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
    }

    enum Ending: Equatable {
        /// The server closed the connection (end of file or reset).
        case closed
        /// The receive timeout passed with the connection still open.
        case stillOpen
    }

    /// Reads until the server closes the connection or `stop` matches what was read.
    func read(until stop: @escaping @Sendable (String) -> Bool = { _ in false }) async -> (text: String, end: Ending) {
        await withCheckedContinuation { continuation in
            Thread.detachNewThread { [self] in
                var received: [UInt8] = []
                var buffer = [UInt8](repeating: 0, count: 65536)
                while true {
                    let count = recv(fd, &buffer, buffer.count, 0)
                    if count > 0 {
                        received += buffer[..<count]
                        if stop(String(decoding: received, as: UTF8.self)) {
                            continuation.resume(returning: (String(decoding: received, as: UTF8.self), .stillOpen))
                            return
                        }
                        continue
                    }
                    let ending: Ending = count == 0 || errno == ECONNRESET ? .closed : .stillOpen
                    continuation.resume(returning: (String(decoding: received, as: UTF8.self), ending))
                    return
                }
            }
        }
    }

    /// The head of an MCP request, with `token`'s `Authorization` header (alice's by default).
    static func head(
        method: String = "POST", session: String? = nil, accept: String = "application/json, text/event-stream",
        token: String? = RunningHTTPServer.tokens["alice"], close: Bool = false, path: String = "/mcp"
    ) -> String {
        var head = "\(method) \(path) HTTP/1.1\r\nHost: 127.0.0.1\r\nAccept: \(accept)\r\n"
        head += "Content-Type: application/json\r\nMCP-Protocol-Version: 2025-06-18\r\n"
        if close { head += "Connection: close\r\n" }
        if let session { head += "Mcp-Session-Id: \(session)\r\n" }
        if let token { head += "Authorization: Bearer \(token)\r\n" }
        return head
    }

    /// Sends an HTTP request that asks the server to close afterwards, and reads the response.
    static func request(
        port: Int, method: String = "POST", session: String? = nil,
        accept: String = "application/json, text/event-stream", token: String? = RunningHTTPServer.tokens["alice"],
        body: String = "", path: String = "/mcp"
    ) async throws -> String {
        let connection = try RawConnection(port: port)
        let head = head(method: method, session: session, accept: accept, token: token, close: true, path: path)
        connection.send(head + "Content-Length: \(body.utf8.count)\r\n\r\n" + body)
        return await connection.read().text
    }

    static let initialize =
        #"{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-06-18","capabilities":{},"clientInfo":{"name":"t","version":"1"}}}"#
    static let listTools = #"{"jsonrpc":"2.0","id":2,"method":"tools/list"}"#

    /// Opens a `GET` event stream on `session`, which makes the session busy while it is
    /// open; returns the connection and the response head.
    static func eventStream(port: Int, session: String) async throws -> (RawConnection, head: String) {
        let stream = try RawConnection(port: port)
        stream.send(head(method: "GET", session: session, accept: "text/event-stream") + "\r\n")
        return (stream, await stream.read { $0.contains("\r\n\r\n") }.text)
    }

    /// Opens a session and returns its id.
    static func openSession(port: Int, token: String? = RunningHTTPServer.tokens["alice"]) async throws -> String {
        let response = try await request(port: port, token: token, body: initialize)
        let line = response.split(separator: "\r\n").first { $0.lowercased().hasPrefix("mcp-session-id:") }
        return line.map { String($0.split(separator: ":", maxSplits: 1)[1]).trimmingCharacters(in: .whitespaces) }
            ?? "none in: \(response.prefix(300))"
    }
}

@Suite("Streamable HTTP server against slow and idle clients", .serialized)
struct MCPHTTPHardeningTests {
    /// Forty idle connections, some stopped half-way through a header, against a limit of 8:
    /// the server never holds more than 8, closes the idle ones, and still answers.
    @Test func idleConnectionsNeitherExhaustDescriptorsNorStopService() async throws {
        let running = try await RunningHTTPServer {
            $0.httpMaxConnections = 8
            $0.httpIdleTimeoutSeconds = 1
        }
        defer { running.task.cancel() }
        let idle = try (0..<40).map { index in
            let connection = try RawConnection(port: running.port)
            if index.isMultiple(of: 2) { connection.send("GET /health HTTP/1.1\r\nHo") }
            return connection
        }
        // The peak, not the count now: on a loaded machine the idle ones may all have come and
        // gone (five rounds of one second) before this task polls.
        #expect(try await eventually { running.server.peakConnections == 8 })
        let connection = try RawConnection(port: running.port)
        connection.send("GET /health HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        let response = await connection.read()
        #expect(response.text.hasPrefix("HTTP/1.1 200 OK"), "\(response.text.prefix(200))")
        #expect(response.text.contains(#""healthy":true"#))
        // Every idle connection was closed by the server, not left open.
        for connection in idle {
            #expect(await connection.read().end == .closed)
        }
        #expect(running.server.peakConnections == 8)
    }

    @Test func halfAHeaderIsClosedAfterTheIdleTimeout() async throws {
        let running = try await RunningHTTPServer { $0.httpIdleTimeoutSeconds = 1 }
        defer { running.task.cancel() }
        let connection = try RawConnection(port: running.port, receiveTimeoutSeconds: 30)
        connection.send("POST /mcp HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Le")
        let response = await connection.read()
        #expect(response.end == .closed)
        #expect(response.text == "")
    }

    /// A complete head and a body that never finishes: the idle timeout alone would keep it
    /// (its clock restarts with every body part), the request deadline closes it.
    @Test func aBodyThatNeverEndsIsClosedAfterTheRequestTimeout() async throws {
        let running = try await RunningHTTPServer {
            $0.httpIdleTimeoutSeconds = 3_600
            $0.httpRequestTimeoutSeconds = 1
        }
        defer { running.task.cancel() }
        let connection = try RawConnection(port: running.port, receiveTimeoutSeconds: 30)
        connection.send(
            RawConnection.head() + "Content-Length: 100\r\n\r\n{")
        let response = await connection.read()
        #expect(response.end == .closed)
        #expect(!response.text.contains("200 OK"))
    }

    @Test func atTheSessionCapTheLeastRecentlyUsedIdleSessionIsClosed() async throws {
        let running = try await RunningHTTPServer { $0.maxSessions = 2 }
        defer { running.task.cancel() }
        let first = try await RawConnection.openSession(port: running.port)
        let second = try await RawConnection.openSession(port: running.port)
        // Using the first makes the second the least recently used.
        let listed = try await RawConnection.request(port: running.port, session: first, body: RawConnection.listTools)
        #expect(listed.hasPrefix("HTTP/1.1 200 OK"), "\(listed.prefix(300))")
        let third = try await RawConnection.openSession(port: running.port)
        #expect(Set([first, second, third]).count == 3)
        #expect(await running.server.openSessions == 2)
        let evicted = try await RawConnection.request(
            port: running.port, session: second, body: RawConnection.listTools)
        #expect(evicted.hasPrefix("HTTP/1.1 404 Not Found"), "\(evicted.prefix(300))")
        #expect(evicted.contains("no such session"))
        let kept = try await RawConnection.request(port: running.port, session: first, body: RawConnection.listTools)
        #expect(kept.hasPrefix("HTTP/1.1 200 OK"))
    }

    @Test func whenEverySessionIsBusyInitializeIsRefused() async throws {
        let running = try await RunningHTTPServer { $0.maxSessions = 1 }
        defer { running.task.cancel() }
        let session = try await RawConnection.openSession(port: running.port)
        // An open GET event stream makes the session busy.
        let (stream, head) = try await RawConnection.eventStream(port: running.port, session: session)
        defer { withExtendedLifetime(stream) {} }
        #expect(head.hasPrefix("HTTP/1.1 200 OK"), "\(head.prefix(300))")
        let refused = try await RawConnection.request(port: running.port, body: RawConnection.initialize)
        #expect(refused.hasPrefix("HTTP/1.1 503 Service Unavailable"), "\(refused.prefix(300))")
        #expect(refused.contains("all 1 MCP sessions are busy or held by clients with fewer; try again later"))
        // A second GET stream on the same session is refused as well: one per session.
        let second = try await RawConnection.request(
            port: running.port, method: "GET", session: session, accept: "text/event-stream")
        #expect(second.hasPrefix("HTTP/1.1 409 Conflict"), "\(second.prefix(300))")
        #expect(second.contains("this session already has an open GET event stream"))
    }

    @Test func idleSessionsExpireOnATimerWithoutFurtherTraffic() async throws {
        let running = try await RunningHTTPServer { $0.sessionIdleTimeoutSeconds = 1 }
        defer { running.task.cancel() }
        let session = try await RawConnection.openSession(port: running.port)
        #expect(await running.server.openSessions == 1)
        #expect(try await eventually { await running.server.openSessions == 0 })
        let expired = try await RawConnection.request(
            port: running.port, session: session, body: RawConnection.listTools)
        #expect(expired.hasPrefix("HTTP/1.1 404 Not Found"), "\(expired.prefix(300))")
    }

    @Test func aGetEventStreamEndsAfterItsLifetime() async throws {
        let running = try await RunningHTTPServer { $0.httpEventStreamSeconds = 1 }
        defer { running.task.cancel() }
        let session = try await RawConnection.openSession(port: running.port)
        let connection = try RawConnection(port: running.port, receiveTimeoutSeconds: 30)
        connection.send(
            RawConnection.head(method: "GET", session: session, accept: "text/event-stream", close: true) + "\r\n")
        let response = await connection.read()
        #expect(response.text.hasPrefix("HTTP/1.1 200 OK"), "\(response.text.prefix(300))")
        #expect(response.text.lowercased().contains("content-type: text/event-stream"))
        #expect(response.end == .closed)
        // The session itself stays usable.
        let listed = try await RawConnection.request(
            port: running.port, session: session, body: RawConnection.listTools)
        #expect(listed.hasPrefix("HTTP/1.1 200 OK"), "\(listed.prefix(300))")
    }
}
