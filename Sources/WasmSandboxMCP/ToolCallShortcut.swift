import Foundation
import MCP
import Synchronization

/// Answers `tools/call` and `ping` itself, ahead of the SDK's server, which handles everything
/// else (initialize, tools/list, resources, notifications): on stdio as each line is read, on
/// Streamable HTTP as a plain JSON response to the POST.
///
/// The SDK's server decodes a request up to three times and every string in it through a
/// decoder that compiles a regular expression per string; for a small call that cost four
/// times the run itself. Here a call is decoded once (``PlainJSON``) and goes straight to the
/// same handler the SDK would call, with the same results, errors and cancellation rules: a
/// call cancelled by `notifications/cancelled` gets no answer. Requests before `initialize`
/// are left to the SDK, which refuses them.
final class ToolCallShortcut: Sendable {
    private let service: SandboxMCPServer
    private let connection: SandboxMCPServer.Connection
    private let send: @Sendable (Data) -> Void
    /// Calls in flight, by request id, so that a cancellation can reach them; each with a
    /// number of its own, so that a call whose id was reused removes only its own entry.
    private let running = Mutex<(calls: [ID: (number: UInt64, task: Task<Void, Never>)], started: UInt64)>(([:], 0))

    init(
        service: SandboxMCPServer, connection: SandboxMCPServer.Connection,
        send: @escaping @Sendable (Data) -> Void
    ) {
        self.service = service
        self.connection = connection
        self.send = send
    }

    /// The parts of a message the shortcut looks at; `params` only for the methods it takes.
    private struct Message: Decodable, Sendable {
        var id: ID?
        /// An `id` that is neither a string nor an integer (MCP forbids even `null`).
        var badID = false
        var method: String?
        var call: CallParameters?
        var cancelled: ID?

        struct CallParameters: Decodable, Sendable {
            var name: String
            var arguments: [String: PlainJSON]?
            var _meta: Meta?
        }

        struct Meta: Decodable, Sendable {
            var progressToken: ProgressToken?
        }

        struct Cancelled: Decodable, Sendable {
            var requestId: ID
        }

        enum Keys: String, CodingKey { case jsonrpc, id, method, params }

        enum Kind {
            case ping(ID)
            case call(CallParameters, ID)
            case cancel(ID)
            case invalidID
            case other
        }

        var kind: Kind {
            if badID, method != nil { return .invalidID }
            switch (method, id) {
            case (Ping.name?, let id?): return .ping(id)
            case (CallTool.name?, let id?): return call.map { .call($0, id) } ?? .other
            case (CancelledNotification.name?, nil): return cancelled.map { .cancel($0) } ?? .other
            default: return .other
            }
        }

        init(from decoder: any Decoder) throws {
            let container = try decoder.container(keyedBy: Keys.self)
            guard try container.decodeIfPresent(String.self, forKey: .jsonrpc) == "2.0" else { return }
            if container.contains(.id) {
                switch try container.decode(PlainJSON.self, forKey: .id) {
                case .string(let text): id = .string(text)
                case .int(let number): id = .number(number)
                default: badID = true
                }
            }
            method = try container.decodeIfPresent(String.self, forKey: .method)
            switch method {
            case CallTool.name: call = try container.decode(CallParameters.self, forKey: .params)
            case CancelledNotification.name:
                cancelled = try container.decodeIfPresent(Cancelled.self, forKey: .params)?.requestId
            default: break
            }
        }
    }

    /// What the shortcut made of a message.
    enum Outcome: Sendable {
        /// Not one it answers: the SDK's server does.
        case notMine
        /// The answer to send.
        case answer(Data)
        /// A call it started: its answer goes to the `deliver` given to ``handle(_:deliver:)``.
        case started
        /// A cancellation it applied: nothing to answer.
        case noAnswer
    }

    /// Takes a message off the stdio reader when the shortcut answers it, or it cancels a call
    /// the shortcut runs; `false` leaves it to the SDK's server (anything else, or anything it
    /// cannot read). Calls run on tasks of their own: the reader goes on at once.
    func offer(_ data: Data) -> Bool {
        let send = send
        switch handle(data, progressGoesOut: true, deliver: { answer in if let answer { send(answer) } }) {
        case .notMine: return false
        case .answer(let answer):
            send(answer)
            return true
        case .started, .noAnswer: return true
        }
    }

    /// What to do with a message. A call is started and its answer handed to `deliver`, or
    /// `nil` when it was cancelled (the spec says not to answer). Without `progressGoesOut`
    /// (HTTP, where notifications travel on the SDK's event streams), a call that asks for
    /// progress is left to the SDK.
    func handle(_ data: Data, progressGoesOut: Bool, deliver: @escaping @Sendable (Data?) -> Void) -> Outcome {
        let message: Message
        switch Self.read(data) {
        case .success(let read): message = read
        case .failure(.notJSON(let answer)): return .answer(answer)
        case .failure(.other): return .notMine
        }
        switch message.kind {
        case .ping(let id): return .answer(Self.pong(id))
        case .invalidID: return .answer(Self.invalidID)
        case .cancel(let id): return cancel(id) ? .noAnswer : .notMine
        case .call(let call, let id):
            guard connection.initialized, progressGoesOut || call._meta?.progressToken == nil else { return .notMine }
            start(call, id: id, deliver: deliver)
            return .started
        case .other: return .notMine
        }
    }

    private enum Unreadable: Error {
        /// Not JSON at all: the parse error answer, with the request's id when it has one.
        case notJSON(Data)
        /// JSON of a shape the shortcut does not take: the SDK's server says what is wrong.
        case other
    }

    private static func read(_ data: Data) -> Result<Message, Unreadable> {
        do {
            return .success(try JSONDecoder().decode(Message.self, from: data))
        } catch DecodingError.dataCorrupted(let context) where context.codingPath.isEmpty {
            // The SDK would answer under a made-up id, and only "Invalid message format".
            var scanner = TopLevelIDScanner()
            scanner.scan(data.prefix(1 << 20))
            scanner.finish()
            // JSONDecoder says only that it is not JSON; JSONSerialization says where and why.
            var reason = context.debugDescription
            do { _ = try JSONSerialization.jsonObject(with: data) } catch {
                reason = ((error as NSError).userInfo[NSDebugDescriptionErrorKey] as? String) ?? reason
            }
            var answer: [String: Value] = [
                "jsonrpc": "2.0",
                "error": [
                    "code": .int(MCPError.parseError(nil).code), "message": .string("not valid JSON: \(reason)"),
                ],
            ]
            switch scanner.id {
            case .number(let number): answer["id"] = .int(number)
            case .string(let text): answer["id"] = .string(text)
            case nil: answer["id"] = .null
            }
            var out: [UInt8] = []
            JSONText.write(.object(answer), to: &out)
            return .failure(.notJSON(Data(out)))
        } catch {
            return .failure(.other)
        }
    }

    /// The answer to a request whose id is not a string or an integer: the SDK would answer
    /// under a made-up id, or not at all.
    private static let invalidID: Data = {
        var out: [UInt8] = []
        JSONText.write(
            [
                "jsonrpc": "2.0", "id": .null,
                "error": [
                    "code": .int(MCPError.invalidRequest(nil).code),
                    "message":
                        "invalid request: 'id' must be a string or an integer (MCP requests never have a null id)",
                ],
            ], to: &out)
        return Data(out)
    }()

    private static func pong(_ id: ID) -> Data {
        Data(JSONText.response(id: id, result: .object([:])))
    }

    /// Starts a call, registered before the reader goes on to the next message, so that a
    /// cancellation right behind it finds it; under the lock its own removal takes, so that
    /// a call that ends at once does not stay listed.
    private func start(_ call: Message.CallParameters, id: ID, deliver: @escaping @Sendable (Data?) -> Void) {
        running.withLock { running in
            running.started += 1
            let number = running.started
            let task = Task {
                let answer = await self.execute(call, id: id)
                self.running.withLock { running in
                    if running.calls[id]?.number == number { running.calls[id] = nil }
                }
                deliver(answer)
            }
            running.calls[id] = (number, task)
        }
    }

    /// Cancels every call in flight: the connection is closing.
    func cancelAll() {
        let calls = running.withLock { running in
            defer { running.calls = [:] }
            return running.calls.values.map(\.task)
        }
        for task in calls { task.cancel() }
    }

    /// Cancels the call with request id `id`, if it runs here; whether it did.
    func cancel(_ id: ID) -> Bool {
        guard let call = running.withLock({ $0.calls.removeValue(forKey: id) }) else { return false }
        call.task.cancel()
        return true
    }

    /// Runs a call; its answer, or `nil` when it was cancelled (the spec says not to answer).
    private func execute(_ call: Message.CallParameters, id: ID) async -> Data? {
        let send = send
        let progress = call._meta?.progressToken.map { token in
            ProgressReporter(token: token) { notification in
                if let data = try? JSONEncoder().encode(notification) { send(data) }
            }
        }
        do {
            let result = try await service.call(
                call.name, arguments: call.arguments?.mapValues(\.value), connection: connection,
                progress: progress)
            return Data(JSONText.response(id: id, result: try ValueEncoder().encode(result)))
        } catch is CancellationError {
            return nil
        } catch let error as MCPError {
            return try? JSONEncoder().encode(CallTool.response(id: id, error: error))
        } catch {
            return try? JSONEncoder().encode(
                CallTool.response(id: id, error: .internalError(String(describing: error))))
        }
    }
}
