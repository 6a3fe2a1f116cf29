import Foundation

/// A JSON-RPC client of `wasm-sandbox serve` over stdio that does nothing but write lines
/// and read lines, so that what a benchmark measures is the server, not a client library.
final class RawStdioClient {
    private let server: StdioServerProcess
    private var buffer = Data()
    private var nextID = 1

    init(executable: String, environment: [String: String] = [:]) throws {
        server = try StdioServerProcess(executable: executable, environment: environment)
        _ = try request("initialize", MCPMessages.initializeParams)
        try write(MCPMessages.notification("notifications/initialized"))
    }

    /// Sends a request and waits for its answer, which must be a result.
    @discardableResult
    func request(_ method: String, _ params: [String: Any]? = nil) throws -> [String: Any] {
        let id = send(method, params)
        return try MCPMessages.result(of: try receive(), id: id)
    }

    /// Sends an encoded request, built beforehand so that a large one's encoding is not
    /// timed, and waits for its answer, which must be a result.
    func roundTrip(_ encoded: (id: Int, data: Data)) throws -> [String: Any] {
        try write(encoded.data)
        return try MCPMessages.result(of: try receive(), id: encoded.id)
    }

    /// Sends an encoded request and returns the raw line of its answer, unparsed (the answers
    /// of this client's sequential requests come in order).
    func roundTripRaw(_ encoded: (id: Int, data: Data)) throws -> Data {
        try write(encoded.data)
        return try receiveLine()
    }

    /// A request encoded with the next id, to send later with ``roundTrip(_:)``.
    func encode(_ method: String, _ params: [String: Any]?) -> (id: Int, data: Data) {
        let id = nextID
        nextID += 1
        return (id, MCPMessages.request(id: id, method: method, params: params))
    }

    /// Sends a request without waiting; returns its id.
    @discardableResult
    func send(_ method: String, _ params: [String: Any]? = nil) -> Int {
        let id = nextID
        nextID += 1
        try? write(MCPMessages.request(id: id, method: method, params: params))
        return id
    }

    func write(_ message: Data) throws {
        var line = message
        line.append(UInt8(ascii: "\n"))
        try server.toServer.fileHandleForWriting.write(contentsOf: line)
    }

    /// The next message from the server.
    func receive() throws -> [String: Any] { try MCPMessages.parse(try receiveLine()) }

    /// The next line from the server, without its newline.
    func receiveLine() throws -> Data {
        var searched = 0
        while true {
            if let newline = buffer[(buffer.startIndex + searched)...].firstIndex(of: UInt8(ascii: "\n")) {
                let line = Data(buffer[buffer.startIndex..<newline])
                buffer.removeSubrange(buffer.startIndex...newline)
                return line
            }
            searched = buffer.count
            let chunk = server.fromServer.fileHandleForReading.availableData
            guard !chunk.isEmpty else { throw BenchmarkError("the server closed its output") }
            buffer.append(chunk)
        }
    }

    /// Closes the server's input, which ends it, and waits for it to exit.
    func stop() { server.stop() }
}

/// The JSON-RPC messages the raw benchmark clients send and read.
enum MCPMessages {
    static var initializeParams: [String: Any] {
        [
            "protocolVersion": "2025-06-18", "capabilities": [String: Any](),
            "clientInfo": ["name": "wasm-sandbox-bench", "version": "1"],
        ]
    }

    static func request(id: Int, method: String, params: [String: Any]?) -> Data {
        var message: [String: Any] = ["jsonrpc": "2.0", "id": id, "method": method]
        if let params { message["params"] = params }
        return (try? JSONSerialization.data(withJSONObject: message)) ?? Data()
    }

    static func notification(_ method: String) -> Data {
        (try? JSONSerialization.data(withJSONObject: ["jsonrpc": "2.0", "method": method])) ?? Data()
    }

    static func parse(_ data: Data) throws -> [String: Any] {
        guard let message = try JSONSerialization.jsonObject(with: data) as? [String: Any] else {
            throw BenchmarkError("not a JSON-RPC message: \(String(decoding: data.prefix(200), as: UTF8.self))")
        }
        return message
    }

    /// The result of the answer to request `id` (or to any of `any`); anything else is an error.
    static func result(of answer: [String: Any], id: Int, any: [Int] = []) throws -> [String: Any] {
        guard let answered = answer["id"] as? Int, answered == id || any.contains(answered),
            let result = answer["result"] as? [String: Any]
        else {
            throw BenchmarkError("request \(id) got \(String(describing: answer).prefix(300))")
        }
        return result
    }

    /// `execute_code` arguments; checks the call ran.
    static func toolCall(_ arguments: [String: Any]) -> [String: Any] {
        ["name": "execute_code", "arguments": arguments]
    }

    static func checkRan(_ result: [String: Any]) throws {
        guard (result["structuredContent"] as? [String: Any])?["status"] as? String == "ok" else {
            throw BenchmarkError("a call did not run: \(String(describing: result).prefix(300))")
        }
    }
}
