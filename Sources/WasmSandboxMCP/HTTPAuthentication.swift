import Foundation
import HTTPTypes
import Hummingbird
import Logging
import NIOCore
import Synchronization

/// Bearer-token authentication of the HTTP server, as the MCP authorization specification
/// asks of a resource server: a request to `/mcp` without a valid `Authorization: Bearer`
/// token is answered 401 with a `WWW-Authenticate` challenge naming the OAuth protected
/// resource metadata (RFC 9728, served at `/.well-known/oauth-protected-resource/mcp`),
/// before its body is read or anything runs. `/metrics` can have tokens of its own.
///
/// The tokens files are read at start and again by ``reload()`` (on SIGHUP); a file that no
/// longer parses leaves the tokens as they were, so a bad edit never locks every client out.
final class HTTPAuthentication: Sendable {
    /// The endpoints tokens protect.
    enum Endpoint: Sendable {
        case mcp, metrics
    }

    /// What a request may do: go on as `client` (`authenticated` when it showed a token), or
    /// be answered with `response`.
    enum Outcome: Sendable {
        case allowed(client: String, authenticated: Bool)
        case refused(Response)
    }

    private let mcpFile: String?
    private let metricsFile: String?
    private let mcpTokens: Mutex<AuthTokens?>
    private let metricsTokens: Mutex<AuthTokens?>
    private let publicURL: String?
    private let defaults: QuotaLimits
    private let quotas: ClientQuotas
    private let audit: AuditLog

    /// Whether `/mcp` needs a token.
    var isEnabled: Bool { mcpFile != nil }

    init(configuration: MCPServerConfiguration, quotas: ClientQuotas, audit: AuditLog) throws {
        mcpFile = configuration.authTokensFile
        metricsFile = configuration.metricsTokensFile
        publicURL = configuration.publicURL.map { $0.hasSuffix("/") ? String($0.dropLast()) : $0 }
        defaults = configuration.quota
        self.quotas = quotas
        self.audit = audit
        let mcp = try mcpFile.map { path throws(ConfigurationError) in try AuthTokens(contentsOf: path) }
        mcpTokens = Mutex(mcp)
        metricsTokens = Mutex(
            try metricsFile.map { path throws(ConfigurationError) in try AuthTokens(contentsOf: path) })
        if let mcp { quotas.setClients(Self.limits(of: mcp, defaults: defaults)) }
    }

    /// Reads the tokens files again. Sessions stay open; a client whose token is gone is
    /// refused from its next request on. On an error nothing changes.
    func reload() throws(ConfigurationError) -> String {
        let mcp = try mcpFile.map { path throws(ConfigurationError) in try AuthTokens(contentsOf: path) }
        let metrics = try metricsFile.map { path throws(ConfigurationError) in try AuthTokens(contentsOf: path) }
        mcpTokens.withLock { $0 = mcp }
        metricsTokens.withLock { $0 = metrics }
        if let mcp { quotas.setClients(Self.limits(of: mcp, defaults: defaults)) }
        let clients = Set(mcp?.entries.map(\.client) ?? []).count
        return
            "\(clients) client(s), \(mcp?.entries.count ?? 0) MCP token(s), \(metrics?.entries.count ?? 0) metrics token(s)"
    }

    private static func limits(of tokens: AuthTokens, defaults: QuotaLimits) -> [String: QuotaLimits] {
        // A client with several lines (a token being rotated) takes the settings of its last.
        var limits: [String: QuotaLimits] = [:]
        for entry in tokens.entries { limits[entry.client] = entry.quota.applied(to: defaults) }
        return limits
    }

    /// Checks a request's credentials for `endpoint`.
    func check(_ request: Request, endpoint: Endpoint) -> Outcome {
        let tokens = endpoint == .mcp ? mcpTokens.withLock { $0 } : metricsTokens.withLock { $0 }
        guard let tokens else { return .allowed(client: "anonymous", authenticated: false) }
        let values = request.headers[values: .authorization]
        guard let header = values.first else {
            audit.authFailure(.authMissing, path: request.uri.path)
            return .refused(unauthorized(request, endpoint: endpoint, error: nil))
        }
        let parts = header.split(separator: " ", maxSplits: 1, omittingEmptySubsequences: true)
        guard parts.count == 2, parts[0].lowercased() == "bearer" else {
            // Another scheme (Basic, say) is no bearer token: the challenge says which to use.
            audit.authFailure(.authMissing, path: request.uri.path)
            return .refused(unauthorized(request, endpoint: endpoint, error: nil))
        }
        let token = parts[1].trimmingCharacters(in: .whitespaces)
        guard values.count == 1, !token.isEmpty, token.utf8.count <= AuthTokens.maxTokenBytes,
            !token.contains(where: \.isWhitespace)
        else {
            audit.authFailure(.authInvalid, path: request.uri.path)
            return .refused(
                Self.answer(
                    .badRequest, endpoint: endpoint,
                    message:
                        "Bad Request: send exactly one 'Authorization: Bearer TOKEN' header, the token at most \(AuthTokens.maxTokenBytes) bytes without spaces",
                    challenge: nil))
        }
        guard let entry = tokens.entry(forToken: token) else {
            audit.authFailure(.authInvalid, path: request.uri.path)
            return .refused(unauthorized(request, endpoint: endpoint, error: "invalid_token"))
        }
        return .allowed(client: entry.client, authenticated: true)
    }

    /// The 401 answer: its challenge points to the resource metadata, and names the error when
    /// a token was given (RFC 6750: none when there was no token at all).
    private func unauthorized(_ request: Request, endpoint: Endpoint, error: String?) -> Response {
        var challenge = "Bearer realm=\"wasm-sandbox\", resource_metadata=\"\(metadataURL(for: request))\""
        let message: String
        if let error {
            challenge +=
                ", error=\"\(error)\", error_description=\"the token is not valid: unknown, revoked or mistyped\""
            message = "Unauthorized: the bearer token is not valid (unknown, revoked or mistyped)"
        } else {
            message =
                "Unauthorized: this server needs an 'Authorization: Bearer TOKEN' header; its operator gives out tokens"
        }
        return Self.answer(.unauthorized, endpoint: endpoint, message: message, challenge: challenge)
    }

    private static func answer(
        _ status: HTTPResponse.Status, endpoint: Endpoint, message: String, challenge: String?
    ) -> Response {
        var headers: HTTPFields = [:]
        if let challenge { headers[.wwwAuthenticate] = challenge }
        let body: String
        switch endpoint {
        case .mcp:
            headers[.contentType] = "application/json"
            var out: [UInt8] = []
            JSONText.write(
                ["jsonrpc": "2.0", "id": .null, "error": ["code": -32600, "message": .string(message)]], to: &out)
            body = String(decoding: out, as: UTF8.self)
        case .metrics:
            headers[.contentType] = "text/plain"
            body = message + "\n"
        }
        return Response(status: status, headers: headers, body: .init(byteBuffer: ByteBuffer(string: body)))
    }

    /// The OAuth protected resource metadata document (RFC 9728). It lists no authorization
    /// server: tokens are given out by the operator (`wasm-sandbox token`). A deployment that
    /// issues them by OAuth puts a proxy in front, which serves its own document.
    func metadata(_ request: Request) -> Response {
        var out: [UInt8] = []
        JSONText.write(
            [
                "resource": .string(baseURL(for: request) + "/mcp"), "resource_name": "wasm-sandbox",
                "bearer_methods_supported": ["header"],
            ], to: &out)
        return Response(
            status: .ok, headers: [.contentType: "application/json"],
            body: .init(byteBuffer: ByteBuffer(bytes: out)))
    }

    private func metadataURL(for request: Request) -> String {
        baseURL(for: request) + "/.well-known/oauth-protected-resource/mcp"
    }

    /// The configured public URL, or one made of the request's `Host` header when that is a
    /// plain host and port (anything else could forge the challenge's text).
    private func baseURL(for request: Request) -> String {
        if let publicURL { return publicURL }
        let host = request.head.authority ?? ""
        let plain =
            !host.isEmpty && host.utf8.count <= 255
            && host.unicodeScalars.allSatisfy {
                ("a"..."z").contains($0) || ("A"..."Z").contains($0) || ("0"..."9").contains($0)
                    || ".-:[]".unicodeScalars.contains($0)
            }
        return "http://" + (plain ? host : "localhost")
    }
}
