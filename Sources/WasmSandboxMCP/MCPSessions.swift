import Foundation
import Logging
import MCP

/// The Streamable HTTP sessions of one endpoint: an MCP server and transport per session,
/// created by an `initialize` request and found again by the `Mcp-Session-Id` header.
actor MCPSessions {
    private struct Session {
        let server: Server
        let transport: StatefulHTTPServerTransport
        var lastUsed: ContinuousClock.Instant
    }

    private let service: SandboxMCPServer
    private let logger: Logger
    private let idleTimeout: Duration
    private var sessions: [String: Session] = [:]

    init(service: SandboxMCPServer, logger: Logger, idleTimeout: Duration = .seconds(3600)) {
        self.service = service
        self.logger = logger
        self.idleTimeout = idleTimeout
    }

    func handle(_ request: HTTPRequest) async -> HTTPResponse {
        dropIdleSessions()
        let id = request.header(HTTPHeaderName.sessionID)
        if let id, var session = sessions[id] {
            session.lastUsed = .now
            sessions[id] = session
            let response = await session.transport.handleRequest(request)
            if request.method.uppercased() == "DELETE", response.statusCode == 200 {
                await close(id)
            }
            return response
        }
        if id == nil, request.method.uppercased() == "POST", let body = request.body, Self.isInitialize(body) {
            return await open(request)
        }
        if id != nil { return .error(statusCode: 404, .invalidRequest("Not Found: no such session")) }
        return .error(statusCode: 400, .invalidRequest("Bad Request: missing \(HTTPHeaderName.sessionID) header"))
    }

    /// Cancels a call whose client went away, as if the client had sent
    /// `notifications/cancelled`: its run is stopped and its slot freed.
    func cancel(session id: String, requestID: Any) async {
        guard let session = sessions[id],
            let body = try? JSONSerialization.data(withJSONObject: [
                "jsonrpc": "2.0", "method": "notifications/cancelled",
                "params": ["requestId": requestID, "reason": "the client disconnected"],
            ])
        else { return }
        let request = HTTPRequest(
            method: "POST",
            headers: [
                HTTPHeaderName.sessionID: id, HTTPHeaderName.contentType: "application/json",
                HTTPHeaderName.accept: "application/json, text/event-stream",
                HTTPHeaderName.protocolVersion: Version.latest,
            ], body: body)
        _ = await session.transport.handleRequest(request)
        logger.debug("cancelled a call whose client disconnected", metadata: ["session": "\(id)"])
    }

    /// Ends every session; their servers stop and their runs are cancelled with them.
    func closeAll() async {
        for id in Array(sessions.keys) { await close(id) }
    }

    var count: Int { sessions.count }

    private func open(_ request: HTTPRequest) async -> HTTPResponse {
        let id = UUID().uuidString
        let transport = StatefulHTTPServerTransport(
            sessionIDGenerator: FixedSessionID(id: id), logger: logger)
        let server: Server
        do {
            server = try await service.startServer(transport: transport, logger: logger)
        } catch {
            return .error(statusCode: 500, .internalError("cannot start a session: \(error)"))
        }
        sessions[id] = Session(server: server, transport: transport, lastUsed: .now)
        logger.debug("session opened", metadata: ["session": "\(id)"])
        let response = await transport.handleRequest(request)
        if response.statusCode >= 400 { await close(id) }
        return response
    }

    private func close(_ id: String) async {
        guard let session = sessions.removeValue(forKey: id) else { return }
        await session.server.stop()
        await session.transport.disconnect()
        logger.debug("session closed", metadata: ["session": "\(id)"])
    }

    private func dropIdleSessions() {
        let now = ContinuousClock.now
        for (id, session) in sessions where now - session.lastUsed > idleTimeout {
            sessions.removeValue(forKey: id)
            Task { await session.server.stop() }
        }
    }

    /// Whether a POST body is an `initialize` request, the only one that may open a session.
    private static func isInitialize(_ body: Data) -> Bool {
        let message = try? JSONSerialization.jsonObject(with: body) as? [String: Any]
        return message?["method"] as? String == "initialize" && message?["id"] != nil
    }

    private struct FixedSessionID: SessionIDGenerator {
        let id: String
        func generateSessionID() -> String { id }
    }
}
