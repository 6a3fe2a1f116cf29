import Foundation

#if canImport(Glibc)
    import Glibc
#endif

/// A client of the server's Streamable HTTP transport on one keep-alive connection, speaking
/// just enough HTTP/1.1 (a POST, a `Content-Length` or chunked answer, SSE `data:` lines) to
/// time the server rather than a client library.
final class RawHTTPClient {
    private let socket: Int32
    private let host: String
    private var buffer = Data()
    private var sessionID: String?
    private var nextID = 1
    private let token: String?

    /// Opens an MCP session; with `token`, every request carries it as a bearer token.
    init(host: String, port: Int, token: String? = nil) throws {
        self.token = token
        let socket = Glibc.socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard socket >= 0 else { throw BenchmarkError("socket: \(errno)") }
        self.socket = socket
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = in_port_t(UInt16(port).bigEndian)
        inet_pton(AF_INET, host, &address.sin_addr)
        let connected = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                connect(socket, $0, socklen_t(MemoryLayout<sockaddr_in>.size))
            }
        }
        guard connected == 0 else { throw BenchmarkError("connect to \(host):\(port): \(errno)") }
        var one: Int32 = 1
        setsockopt(socket, Int32(IPPROTO_TCP), TCP_NODELAY, &one, socklen_t(MemoryLayout<Int32>.size))
        self.host = "\(host):\(port)"
        _ = try request("initialize", MCPMessages.initializeParams)
        _ = try post(MCPMessages.notification("notifications/initialized"))
    }

    deinit { close(socket) }

    @discardableResult
    func request(_ method: String, _ params: [String: Any]? = nil) throws -> [String: Any] {
        let id = nextID
        nextID += 1
        let body = try post(MCPMessages.request(id: id, method: method, params: params))
        // An SSE stream of events, or a plain JSON body: the answer is the message with our id.
        let text = String(decoding: body, as: UTF8.self)
        let payloads =
            text.hasPrefix("{")
            ? [text]
            : text.split(separator: "\n").filter { $0.hasPrefix("data:") }.map {
                $0.dropFirst(5).trimmingCharacters(in: .whitespaces)
            }.filter { !$0.isEmpty }  // a priming event carries no data
        for payload in payloads {
            let message = try MCPMessages.parse(Data(payload.utf8))
            if message["id"] as? Int == id { return try MCPMessages.result(of: message, id: id) }
        }
        throw BenchmarkError("no answer to request \(id) in \(text.prefix(300))")
    }

    /// POSTs one message and returns the response body.
    private func post(_ message: Data) throws -> Data {
        var head =
            "POST /mcp HTTP/1.1\r\nHost: \(host)\r\nContent-Type: application/json\r\n"
            + "Accept: application/json, text/event-stream\r\nMCP-Protocol-Version: 2025-06-18\r\n"
            + "Content-Length: \(message.count)\r\n"
        if let sessionID { head += "Mcp-Session-Id: \(sessionID)\r\n" }
        if let token { head += "Authorization: Bearer \(token)\r\n" }
        var request = Data((head + "\r\n").utf8)
        request.append(message)
        try send(request)
        let headers = try readHead()
        guard headers.status < 300 else { throw BenchmarkError("HTTP \(headers.status)") }
        if let id = headers.fields["mcp-session-id"] { sessionID = id }
        if let length = headers.fields["content-length"].flatMap(Int.init) { return try read(length) }
        guard headers.fields["transfer-encoding"]?.lowercased() == "chunked" else { return Data() }
        var body = Data()
        while true {
            let sizeLine = try readLine()
            guard let size = Int(sizeLine.split(separator: ";").first ?? "", radix: 16) else {
                throw BenchmarkError("bad chunk size '\(sizeLine)'")
            }
            if size == 0 {
                _ = try readLine()
                return body
            }
            body.append(try read(size))
            _ = try readLine()
        }
    }

    private func send(_ data: Data) throws {
        try data.withUnsafeBytes { bytes in
            var offset = 0
            while offset < bytes.count {
                let sent = Glibc.send(socket, bytes.baseAddress! + offset, bytes.count - offset, Int32(MSG_NOSIGNAL))
                guard sent > 0 else { throw BenchmarkError("send: \(errno)") }
                offset += sent
            }
        }
    }

    private func readHead() throws -> (status: Int, fields: [String: String]) {
        let statusLine = try readLine()
        let status = Int(statusLine.split(separator: " ").dropFirst().first ?? "") ?? 0
        var fields: [String: String] = [:]
        while true {
            let line = try readLine()
            if line.isEmpty { return (status, fields) }
            if let colon = line.firstIndex(of: ":") {
                fields[line[..<colon].lowercased()] = line[line.index(after: colon)...].trimmingCharacters(
                    in: .whitespaces)
            }
        }
    }

    private func readLine() throws -> String {
        while true {
            if let end = buffer.firstRange(of: Data("\r\n".utf8)) {
                let line = String(decoding: buffer[buffer.startIndex..<end.lowerBound], as: UTF8.self)
                buffer.removeSubrange(buffer.startIndex..<end.upperBound)
                return line
            }
            try fill()
        }
    }

    private func read(_ count: Int) throws -> Data {
        while buffer.count < count { try fill() }
        let data = Data(buffer.prefix(count))
        buffer.removeFirst(count)
        return data
    }

    private func fill() throws {
        var chunk = [UInt8](repeating: 0, count: 64 << 10)
        let count = recv(socket, &chunk, chunk.count, 0)
        guard count > 0 else { throw BenchmarkError("the server closed the connection") }
        buffer.append(contentsOf: chunk[..<count])
    }
}

/// `wasm-sandbox serve --http 127.0.0.1:0`, with the port it picked.
final class HTTPServerProcess {
    let process = Process()
    let port: Int

    init(executable: String, arguments extra: [String] = []) throws {
        process.executableURL = URL(fileURLWithPath: executable)
        process.arguments = ["serve", "--http", "127.0.0.1:0", "--log-level", "notice"] + extra
        let errors = Pipe()
        process.standardError = errors
        process.standardOutput = FileHandle.nullDevice
        try process.run()
        var seen = ""
        while true {
            let chunk = errors.fileHandleForReading.availableData
            guard !chunk.isEmpty else { throw BenchmarkError("the HTTP server did not start: \(seen)") }
            seen += String(decoding: chunk, as: UTF8.self)
            if let match = seen.firstMatch(of: /http:\/\/127\.0\.0\.1:(\d+)\/mcp/), let port = Int(match.1) {
                self.port = port
                // Drained from now on, so that the server never blocks on a full pipe.
                errors.fileHandleForReading.readabilityHandler = { _ = $0.availableData }
                return
            }
        }
    }

    func stop() {
        process.terminate()
        process.waitUntilExit()
    }
}
