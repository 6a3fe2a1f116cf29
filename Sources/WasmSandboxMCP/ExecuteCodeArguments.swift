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
    var sessionID: String?

    init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: ArgumentName.self)
        var values: [String: Value] = [:]
        // `Value` takes any JSON, `null` included, so only the conversion can fail.
        for key in container.allKeys { values[key.stringValue] = try container.decode(Value.self, forKey: key) }
        try self.init(values)
    }

    /// Checks the arguments of a tool call as the SDK hands them over, already parsed as JSON
    /// values: converted in place, never encoded and parsed again (inline files make them
    /// megabytes).
    init(_ raw: [String: Value]?) throws(MCPError) {
        let given = raw ?? [:]
        if let unknown = given.keys.sorted().first(where: { ExecuteCodeField(rawValue: $0) == nil }) {
            throw MCPError.invalidParams("unknown argument '\(unknown)'")
        }
        var language: Language?
        var code: String?
        for field in ExecuteCodeField.allCases {
            guard let value = given[field.rawValue]?.given else {
                if field.isRequired { throw MCPError.invalidParams("missing argument '\(field.name)'") }
                continue
            }
            switch field {
            case .language: language = try field.language(value)
            case .code: code = try field.string(value)
            case .stdin: stdin = Array(try field.string(value).utf8)
            case .args: arguments = try field.strings(value)
            case .env: environment = try field.variables(value)
            case .files: files = try InputFiles.decode(value)
            case .timeoutMs: timeoutMs = try field.integer(value)
            case .memoryMb: memoryMb = try field.integer(value)
            case .fuel: fuel = try field.integer(value)
            case .sessionID: sessionID = try field.sessionName(value)
            }
        }
        // Both are required: the loop has thrown unless they were given.
        self.language = language!
        self.code = code!
    }

    /// Any argument name, so that unknown ones can be found and named.
    private struct ArgumentName: CodingKey {
        var stringValue: String
        var intValue: Int? { nil }
        init(stringValue: String) { self.stringValue = stringValue }
        init?(intValue: Int) { return nil }
    }
}

extension Value {
    /// The value, or `nil` for JSON `null`: optional arguments take `null` for "not given".
    /// (`Value` is itself `ExpressibleByNilLiteral`: a bare `nil` here would be `.null`.)
    var given: Value? { isNull ? Optional.none : Optional.some(self) }
}
