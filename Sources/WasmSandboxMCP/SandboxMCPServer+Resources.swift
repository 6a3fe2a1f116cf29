import Foundation
import MCP
import WasmSandbox

/// The files runs leave, as MCP resources: results link to them (``ResourceURI``), and
/// `resources/read` returns them while their workspace exists, to the connection that ran them.
extension SandboxMCPServer {
    /// The most resources `resources/list` returns: the files of the connection's open
    /// sessions and kept runs, which a guest could make numerous.
    static let maxListedResources = 1_000

    func readResource(_ text: String, sessions: ClientSessions) async throws -> ReadResource.Result {
        guard let uri = ResourceURI(text) else {
            throw MCPError.invalidParams(
                "'\(text)' is not a resource of this server: its resources are the files runs leave, "
                    + "\(ResourceURI.prefix)runs/… and \(ResourceURI.prefix)sessions/…, as results link to them")
        }
        guard let workspace = await workspace(of: uri, sessions: sessions) else {
            throw Self.notFound(
                "no '\(text)': a run's files are kept \(configuration.resourceGraceSeconds) s after its result, "
                    + "a session's while the session is open, and only for the connection that ran them")
        }
        // The answer carries the file in base64 (4 bytes for 3) inside one message of at most
        // the server's own message size, with room for the envelope (uri, type, JSON-RPC).
        let limit = configuration.maxMessageBytes / 4 * 3 - 1_024
        let path = uri.path
        let bytes = await BlockingIO.run { workspace.contents(of: path, maxBytes: limit) }
        guard let bytes else {
            throw Self.notFound("no file '\(path)' in that workspace, or one larger than \(limit) bytes")
        }
        let kind = FileKind(path: path)
        if !kind.isImage || kind.mimeType == "image/svg+xml", let text = String(validating: bytes, as: UTF8.self) {
            return ReadResource.Result(contents: [.text(text, uri: uri.text, mimeType: kind.textType)])
        }
        return ReadResource.Result(contents: [.binary(Data(bytes), uri: uri.text, mimeType: kind.mimeType)])
    }

    func listResources(sessions: ClientSessions) async -> [Resource] {
        var places: [(make: @Sendable (String) -> ResourceURI, workspace: Workspace)] = []
        for (name, session) in await sessions.openSessions() {
            places.append(({ .session(name: name, path: $0) }, session.workspace))
        }
        for (id, workspace) in await retained.kept(by: sessions.owner) {
            places.append(({ .run(id: id, path: $0) }, workspace))
        }
        let found = places
        return await BlockingIO.run {
            var resources: [Resource] = []
            for place in found {
                for file in place.workspace.files() {
                    guard resources.count < Self.maxListedResources else { return resources }
                    let kind = FileKind(path: file.path)
                    resources.append(
                        Resource(
                            name: file.path, uri: place.make(file.path).text, mimeType: kind.mimeType, size: file.size))
                }
            }
            return resources
        }
    }

    private func workspace(of uri: ResourceURI, sessions: ClientSessions) async -> Workspace? {
        switch uri {
        case .run(let id, _): await retained.workspace(id, owner: sessions.owner)
        case .session(let name, _): await sessions.existing(named: name)?.workspace
        }
    }

    /// MCP's "resource not found" error.
    private static func notFound(_ message: String) -> MCPError {
        .serverError(code: -32002, message: message)
    }
}
