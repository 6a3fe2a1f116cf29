import Foundation
import MCP
import WasmSandbox

/// One argument of `execute_code`, declared once: its name, JSON type, description and
/// bounds. The input schema is generated from these declarations, and the decoder
/// (``ExecuteCodeArguments``) accepts exactly these fields and converts each by its kind, so
/// what the schema advertises and what the server takes cannot drift apart.
enum ExecuteCodeField: String, CodingKey, CaseIterable {
    // Declared in the order the decoder checks them, so that of several problems the first
    // reported is the same from call to call.
    case language, code, stdin, args, env, files
    case timeoutMs = "timeout_ms"
    case memoryMb = "memory_mb"
    case fuel
    case sessionID = "session_id"

    /// The JSON shapes an argument may take.
    enum Kind {
        /// A string naming one of ``Language/allCases``.
        case language
        case string
        case strings
        /// An array of `{name, value}` string pairs, names unique: a list rather than an
        /// object, since OpenAI's strict mode refuses objects with free-form keys.
        case variables
        /// ``InputFiles``.
        case files
        /// A whole number within the range; JSON has one number type, so `5.0` counts.
        case integer(ClosedRange<Int>)
        /// A name a client picks for a session (see ``SessionName``).
        case sessionName
    }

    var name: String { rawValue }

    var kind: Kind {
        switch self {
        case .language: .language
        case .code, .stdin: .string
        case .args: .strings
        case .env: .variables
        case .files: .files
        case .timeoutMs: .integer(LimitBounds.timeoutMs)
        case .memoryMb: .integer(LimitBounds.memoryMb)
        case .fuel: .integer(LimitBounds.fuel)
        case .sessionID: .sessionName
        }
    }

    var isRequired: Bool { self == .language || self == .code }

    /// The field's description in the schema, which is what a model reads to call the tool.
    var summary: String {
        switch self {
        case .language: "The language of 'code'."
        case .code: "Source text; for wasm, the module in base64."
        case .stdin: "Text the program reads on stdin, followed by end of file."
        case .args: "Arguments passed to the program."
        case .env: "The program's whole environment: nothing comes from the host."
        case .files: "Files placed in /workspace before the run, each as text or base64."
        case .timeoutMs: "Wall-clock limit in milliseconds; above the server's maximum it is clamped to it."
        case .memoryMb: "Memory limit in MiB; above the server's maximum it is clamped to it."
        case .fuel: "Instruction budget, for limits that do not depend on the machine; clamped like the others."
        case .sessionID:
            "Run in a session that keeps state (variables, imports, functions, /workspace files) across calls: "
                + "pick any name; the first call with it starts the session (javascript or python only), later "
                + "calls with it continue it, and a final expression's value is returned as in a notebook. "
                + "Omit for a fresh sandbox that keeps nothing."
        }
    }

    /// What the argument must be, as error messages say it.
    var expected: String {
        switch kind {
        case .language, .string: "a string"
        case .strings: "an array of strings"
        case .variables: "an array of {name, value} string pairs"
        case .files: "an array of {name, text} or {name, base64}"
        case .integer(let range): "an integer from \(range.lowerBound) to \(range.upperBound)"
        case .sessionName: SessionName.expected
        }
    }

    /// The field's JSON schema.
    var schema: Value {
        var schema: [String: Value] =
            switch kind {
            case .language: ["type": "string", "enum": .array(Language.allCases.map { .string($0.rawValue) })]
            case .string: ["type": "string"]
            case .strings: ["type": "array", "items": ["type": "string"]]
            case .variables:
                [
                    "type": "array",
                    "items": .object([
                        "type": "object",
                        "properties": .object([
                            "name": ["type": "string", "description": "The variable's name."],
                            "value": ["type": "string", "description": "Its value."],
                        ]),
                        "required": ["name", "value"], "additionalProperties": false,
                    ]),
                ]
            case .files: InputFiles.schema
            case .integer(let range):
                ["type": "integer", "minimum": .int(range.lowerBound), "maximum": .int(range.upperBound)]
            case .sessionName: SessionName.schema
            }
        // Optional arguments also take `null` for "not given": OpenAI's strict mode makes
        // every property required, and a model in it sends `null` for what it leaves out.
        if !isRequired, let type = schema["type"] { schema["type"] = [type, "null"] }
        schema["description"] = .string(summary)
        return .object(schema)
    }

    /// The input schema of `execute_code`: every field, the required ones marked, no others.
    static var inputSchema: Value {
        .object([
            "type": "object",
            "properties": .object(Dictionary(uniqueKeysWithValues: allCases.map { ($0.name, $0.schema) })),
            "required": .array(allCases.filter(\.isRequired).map { .string($0.name) }),
            "additionalProperties": false,
        ])
    }
}

// The conversions of a client's values. Each checks the value's type and range before any
// conversion, and every problem is an `invalidParams` error naming the argument: no input can
// trap the process or pass unbounded work on.
extension ExecuteCodeField {
    var mismatch: MCPError { .invalidParams("'\(name)' must be \(expected)") }

    func string(_ value: Value) throws(MCPError) -> String {
        guard let text = Self.text(value) else { throw mismatch }
        return text
    }

    func sessionName(_ value: Value) throws(MCPError) -> String {
        guard let name = Self.text(value), SessionName.isValid(name) else {
            throw MCPError.invalidParams("'\(self.name)' must be \(expected), got \(Self.json(value))")
        }
        return name
    }

    func language(_ value: Value) throws(MCPError) -> Language {
        let name = try string(value)
        guard let language = Language(rawValue: name) else {
            throw MCPError.invalidParams(
                "unknown language '\(name)': use one of \(Language.allCases.map(\.rawValue).joined(separator: ", "))")
        }
        return language
    }

    func strings(_ value: Value) throws(MCPError) -> [String] {
        guard let items = value.arrayValue else { throw mismatch }
        var strings: [String] = []
        strings.reserveCapacity(items.count)
        for (index, item) in items.enumerated() {
            guard let text = Self.text(item) else {
                throw MCPError.invalidParams("'\(name)[\(index)]' must be a string")
            }
            strings.append(text)
        }
        return strings
    }

    func variables(_ value: Value) throws(MCPError) -> [String: String] {
        guard let items = value.arrayValue else { throw mismatch }
        var variables: [String: String] = [:]
        for (index, item) in items.enumerated() {
            guard let pair = item.objectValue, pair.count == 2, let key = pair["name"].flatMap(Self.text),
                let text = pair["value"].flatMap(Self.text)
            else {
                throw MCPError.invalidParams("'\(name)[\(index)]' must be an object {name, value} of two strings")
            }
            guard !key.isEmpty, !key.utf8.contains(UInt8(ascii: "=")), !key.utf8.contains(0), !text.utf8.contains(0)
            else {
                throw MCPError.invalidParams(
                    "'\(name)[\(index)].name' must be a non-empty name without '=' (and no NUL in name or value)")
            }
            guard variables[key] == nil else {
                throw MCPError.invalidParams("'\(name)[\(index)]' repeats the variable '\(key)'")
            }
            variables[key] = text
        }
        return variables
    }

    /// `Int(exactly:)` is the one conversion, and it cannot trap: a fraction, a value no `Int`
    /// holds (`1e19`, `1e300`) or another type is an error naming the argument and the value.
    func integer(_ value: Value) throws(MCPError) -> Int {
        guard case .integer(let range) = kind else { preconditionFailure("'\(name)' is not an integer field") }
        let number: Int? =
            switch value {
            case .int(let integer): integer
            case .double(let double): Int(exactly: double)
            default: nil
            }
        guard let number, range.contains(number) else {
            throw MCPError.invalidParams("'\(name)' must be \(expected), got \(Self.json(value))")
        }
        return number
    }

    /// The text of a string value. The SDK decodes strings that look like data URLs into
    /// `.data`; those are turned back into their text rather than refused.
    static func text(_ value: Value) -> String? {
        switch value {
        case .string(let text): text
        case .data(let mimeType, let data): data.dataURLEncoded(mimeType: mimeType)
        default: nil
        }
    }

    /// A value as JSON for an error message, shortened.
    static func json(_ value: Value) -> String {
        let text = (try? JSONEncoder().encode(value)).map { String(decoding: $0, as: UTF8.self) } ?? "?"
        return text.count > 40 ? text.prefix(40) + "…" : text
    }
}
