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
    private let send: @Sendable (Data) async -> Void
    /// Calls in flight, by request id, so that a cancellation can reach them.
    private let running = Mutex<[ID: Task<Data?, Never>]>([:])

    init(
        service: SandboxMCPServer, connection: SandboxMCPServer.Connection,
        send: @escaping @Sendable (Data) async -> Void
    ) {
        self.service = service
        self.connection = connection
        self.send = send
    }

    /// The parts of a message the shortcut looks at; `params` only for the methods it takes.
    private struct Message: Decodable, Sendable {
        var id: ID?
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
            case other
        }

        var kind: Kind {
            switch (method, id) {
            case (Ping.name?, let id?): .ping(id)
            case (CallTool.name?, let id?): call.map { .call($0, id) } ?? .other
            case (CancelledNotification.name?, nil): cancelled.map { .cancel($0) } ?? .other
            default: .other
            }
        }

        init(from decoder: any Decoder) throws {
            let container = try decoder.container(keyedBy: Keys.self)
            guard try container.decodeIfPresent(String.self, forKey: .jsonrpc) == "2.0" else { return }
            id = try container.decodeIfPresent(ID.self, forKey: .id)
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
        /// A call under way: its answer, or `nil` when it was cancelled.
        case running(Task<Data?, Never>)
        /// A request whose call was cancelled (no answer), or a cancellation it applied.
        case noAnswer
    }

    /// Takes `data` when it is a message the shortcut answers, or a cancellation of a call it
    /// runs, and sends the answer itself when there is one; `false` leaves it to the SDK's
    /// server (anything else, or anything it cannot read). For stdio, whose reader must go on
    /// at once: the call runs on a task of its own.
    func offer(_ data: Data) -> Bool {
        guard let message = Self.read(data) else { return false }
        switch message.kind {
        case .ping(let id):
            let send = send
            let answer = Self.pong(id)
            Task { await send(answer) }
            return true
        case .cancel(let id):
            return cancel(id)
        case .call(let call, let id):
            guard connection.initialized else { return false }
            let task = start(call, id: id)
            let send = send
            Task {
                if let answer = await task.value { await send(answer) }
            }
            return true
        case .other:
            return false
        }
    }

    /// The same for a transport that answers each request in its own response (HTTP): a call
    /// is returned running, for the transport to relay its answer.
    func handle(_ data: Data) -> Outcome {
        guard let message = Self.read(data) else { return .notMine }
        switch message.kind {
        case .ping(let id): return .answer(Self.pong(id))
        case .cancel(let id): return cancel(id) ? .noAnswer : .notMine
        case .call(let call, let id):
            // Progress notifications travel on an event stream, which the SDK's transport keeps.
            guard connection.initialized, call._meta?.progressToken == nil else { return .notMine }
            return .running(start(call, id: id))
        case .other: return .notMine
        }
    }

    private static func read(_ data: Data) -> Message? { try? JSONDecoder().decode(Message.self, from: data) }

    private static func pong(_ id: ID) -> Data {
        Data(JSONText.response(id: id, result: .object([:])))
    }

    /// Starts a call, registered before the reader goes on to the next message, so that a
    /// cancellation right behind it finds it; under the lock its own removal takes, so that
    /// a call that ends at once does not stay listed.
    private func start(_ call: Message.CallParameters, id: ID) -> Task<Data?, Never> {
        running.withLock { running in
            let task = Task { await self.execute(call, id: id) }
            running[id] = task
            return task
        }
    }

    /// Cancels the call with request id `id`, if it runs here; whether it did.
    func cancel(_ id: ID) -> Bool {
        guard let task = running.withLock({ $0.removeValue(forKey: id) }) else { return false }
        task.cancel()
        return true
    }

    /// Runs a call; its answer, or `nil` when it was cancelled (the spec says not to answer).
    private func execute(_ call: Message.CallParameters, id: ID) async -> Data? {
        defer { _ = running.withLock { $0.removeValue(forKey: id) } }
        let send = send
        let progress = call._meta?.progressToken.map { token in
            ProgressReporter(token: token) { notification in
                if let data = try? JSONEncoder().encode(notification) { await send(data) }
            }
        }
        do {
            let result = try await service.call(
                call.name, arguments: call.arguments?.mapValues(\.value), sessions: connection.sessions,
                progress: progress)
            try Task.checkCancellation()
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
