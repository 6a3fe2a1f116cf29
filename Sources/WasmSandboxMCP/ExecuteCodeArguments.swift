import Foundation
import MCP
import WasmSandbox

/// The arguments of `execute_code` as the client sent them, decoded and checked against the
/// bounds that hold for every server (``LimitBounds``, ``Workspace``'s limits). The server's
/// own maxima are applied after, by ``ExecuteCodePlan``.
///
/// Each field is decoded as a JSON value and converted by its ``ExecuteCodeField``, rather
/// than decoded as a Swift type directly: a `DecodingError` would say "expected Int" where a
/// client needs the argument's name, its range and the value it sent.
struct ExecuteCodeArguments: Decodable {
    var language: Language
    /// Source text, or for wasm the module in base64: decoded once the server's size limit is known.
    var code: String
    var stdin: [UInt8] = []
    var arguments: [String] = []
    var environment: [String: String] = [:]
    var files: [String: [UInt8]] = [:]
    var timeoutMs: Int?
    var memoryMb: Int?
    var fuel: Int?

    init(from decoder: any Decoder) throws {
        let given = try decoder.container(keyedBy: ArgumentName.self).allKeys.map(\.stringValue).sorted()
        if let unknown = given.first(where: { ExecuteCodeField(rawValue: $0) == nil }) {
            throw MCPError.invalidParams("unknown argument '\(unknown)'")
        }
        let container = try decoder.container(keyedBy: ExecuteCodeField.self)
        var language: Language?
        var code: String?
        for field in ExecuteCodeField.allCases {
            guard container.contains(field) else {
                if field.isRequired { throw MCPError.invalidParams("missing argument '\(field.name)'") }
                continue
            }
            // `Value` takes any JSON, `null` included, so only the conversion can fail.
            let value = try container.decode(Value.self, forKey: field)
            switch field {
            case .language: language = try field.language(value)
            case .code: code = try field.string(value)
            case .stdin: stdin = Array(try field.string(value).utf8)
            case .args: arguments = try field.strings(value)
            case .env: environment = try field.stringMap(value)
            case .files: files = try InputFiles.decode(value)
            case .timeoutMs: timeoutMs = try field.integer(value)
            case .memoryMb: memoryMb = try field.integer(value)
            case .fuel: fuel = try field.integer(value)
            }
        }
        // Both are required: the loop has thrown unless they were given.
        self.language = language!
        self.code = code!
    }

    /// Decodes the arguments of a tool call. The SDK hands them over already parsed, as JSON
    /// values; they go through `JSONDecoder` again so that this type is an ordinary `Decodable`.
    init(_ raw: [String: Value]?) throws(MCPError) {
        do {
            self = try JSONDecoder().decode(Self.self, from: JSONEncoder().encode(raw ?? [:]))
        } catch let error as MCPError {
            throw error
        } catch {
            throw MCPError.invalidParams("the arguments cannot be read: \(error)")
        }
    }

    /// Any argument name, so that unknown ones can be found and named.
    private struct ArgumentName: CodingKey {
        var stringValue: String
        var intValue: Int? { nil }
        init(stringValue: String) { self.stringValue = stringValue }
        init?(intValue: Int) { return nil }
    }
}
