import Foundation
import MCP
import Synchronization

/// Answers `tools/call` and `ping` on a stdio connection itself, ahead of the SDK's server,
/// which hands everything else (initialize, tools/list, resources, notifications).
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
    private let running = Mutex<[ID: Task<Void, Never>]>([:])

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

    /// Takes `data` when it is a message the shortcut answers, or a cancellation of a call it
    /// runs; `false` leaves it to the SDK's server (anything else, or anything it cannot read).
    func offer(_ data: Data) -> Bool {
        guard let message = try? JSONDecoder().decode(Message.self, from: data) else { return false }
        if let cancelled = message.cancelled {
            guard let task = running.withLock({ $0.removeValue(forKey: cancelled) }) else { return false }
            task.cancel()
            return true
        }
        guard let id = message.id else { return false }
        switch message.method {
        case Ping.name:
            answer(Ping.response(id: id))
            return true
        case CallTool.name:
            guard connection.initialized, let call = message.call else { return false }
            start(call, id: id)
            return true
        default:
            return false
        }
    }

    private func start(_ call: Message.CallParameters, id: ID) {
        let (service, connection, send) = (service, connection, send)
        // Registered before the reader goes on to the next message, so that a cancellation
        // right behind the call finds it.
        running.withLock { running in
            running[id] = Task { [weak self] in
                defer { _ = self?.running.withLock { $0.removeValue(forKey: id) } }
                let progress = call._meta?.progressToken.map { token in
                    ProgressReporter(token: token) { notification in
                        if let data = try? JSONEncoder().encode(notification) { await send(data) }
                    }
                }
                let data: Data?
                do {
                    let result = try await service.call(
                        call.name, arguments: call.arguments?.mapValues(\.value), sessions: connection.sessions,
                        progress: progress)
                    try Task.checkCancellation()
                    data = Data(JSONText.response(id: id, result: try ValueEncoder().encode(result)))
                } catch is CancellationError {
                    return
                } catch let error as MCPError {
                    data = try? JSONEncoder().encode(CallTool.response(id: id, error: error))
                } catch {
                    data = try? JSONEncoder().encode(
                        CallTool.response(id: id, error: .internalError(String(describing: error))))
                }
                if let data { await send(data) }
            }
        }
    }

    private func answer(_ response: Response<Ping>) {
        guard let data = try? JSONEncoder().encode(response) else { return }
        let send = send
        Task { await send(data) }
    }
}
