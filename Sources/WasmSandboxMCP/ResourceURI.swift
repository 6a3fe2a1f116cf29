import Foundation

/// The URIs under which the files runs leave are offered as MCP resources:
/// `wasm-sandbox://runs/<run id>/<path>` for a stateless run (a random id, kept for a grace
/// period), `wasm-sandbox://sessions/<session_id>/<path>` for a code session (while it lives).
/// Either is resolved only on the connection that made it.
enum ResourceURI: Equatable {
    case run(id: String, path: String)
    case session(name: String, path: String)

    static let prefix = "wasm-sandbox://"

    var text: String {
        switch self {
        case .run(let id, let path): "\(Self.prefix)runs/\(id)/\(Self.encode(path))"
        case .session(let name, let path): "\(Self.prefix)sessions/\(name)/\(Self.encode(path))"
        }
    }

    /// The URI `text` names; `nil` for anything else.
    init?(_ text: String) {
        guard text.hasPrefix(Self.prefix) else { return nil }
        let parts = text.dropFirst(Self.prefix.count).split(
            separator: "/", maxSplits: 2, omittingEmptySubsequences: false)
        guard parts.count == 3, !parts[1].isEmpty, let path = parts[2].removingPercentEncoding, !path.isEmpty else {
            return nil
        }
        switch parts[0] {
        case "runs": self = .run(id: String(parts[1]), path: path)
        case "sessions": self = .session(name: String(parts[1]), path: path)
        default: return nil
        }
    }

    var path: String {
        switch self {
        case .run(_, let path), .session(_, let path): path
        }
    }

    private static let allowed = CharacterSet.urlPathAllowed.subtracting(CharacterSet(charactersIn: "%?#;"))

    private static func encode(_ path: String) -> String {
        path.addingPercentEncoding(withAllowedCharacters: allowed) ?? path
    }
}
