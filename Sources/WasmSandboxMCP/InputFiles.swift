import MCP
import WasmSandbox

/// The `files` argument of `execute_code`: entries of `{name, text}` or `{name, base64}`,
/// whose fields, like the arguments', are declared once for the schema and the decoder.
enum InputFiles {
    enum Field: String, CaseIterable {
        case name, text, base64

        var summary: String {
            switch self {
            case .name: "A path relative to /workspace."
            case .text: "The contents as text (UTF-8)."
            case .base64: "The contents in base64, for bytes that are not text."
            }
        }
    }

    /// The schema of the `files` array. A `name` and one of `text` or `base64`: JSON Schema
    /// can say "one of" only clumsily, so that part is in the descriptions.
    static var schema: [String: Value] {
        [
            "type": "array", "maxItems": .int(Workspace.maxInputFiles),
            "items": .object([
                "type": "object",
                "properties": .object(
                    Dictionary(
                        uniqueKeysWithValues: Field.allCases.map {
                            (
                                $0.rawValue,
                                .object([
                                    "type": $0 == .name ? "string" : ["string", "null"],
                                    "description": .string($0.summary),
                                ])
                            )
                        })),
                "required": .array([.string(Field.name.rawValue)]),
                "additionalProperties": false,
            ]),
        ]
    }

    /// The files, checked against ``Workspace``'s limits while they are decoded: the count
    /// before anything is decoded, the running total after each file, so an oversized call stops
    /// at the first file past the limit.
    static func decode(_ value: Value) throws(MCPError) -> [String: [UInt8]] {
        let usage = "'files' must be \(ExecuteCodeField.files.expected)"
        guard let items = value.arrayValue else { throw MCPError.invalidParams(usage) }
        guard items.count <= Workspace.maxInputFiles else {
            throw MCPError.invalidParams(
                "'files' has \(items.count) entries, above the limit of \(Workspace.maxInputFiles)")
        }
        var files: [String: [UInt8]] = [:]
        var total = 0
        for (index, item) in items.enumerated() {
            guard let object = item.objectValue else {
                throw MCPError.invalidParams("'files[\(index)]': \(usage)")
            }
            if let unknown = object.keys.sorted().first(where: { Field(rawValue: $0) == nil }) {
                throw MCPError.invalidParams("'files[\(index)]' has an unknown field '\(unknown)'")
            }
            guard let name = object[Field.name.rawValue].flatMap(ExecuteCodeField.text) else {
                throw MCPError.invalidParams("'files[\(index)]' needs a string 'name'")
            }
            guard files[name] == nil else {
                throw MCPError.invalidParams("'files[\(index)].name' repeats '\(name)'")
            }
            let bytes: [UInt8]
            // `null` is "not given", as strict-mode clients send every field.
            switch (object[Field.text.rawValue].flatMap(\.given), object[Field.base64.rawValue].flatMap(\.given)) {
            case (let text?, nil):
                guard let text = ExecuteCodeField.text(text) else {
                    throw MCPError.invalidParams("'files[\(index)].text' must be a string")
                }
                bytes = Array(text.utf8)
            case (nil, let encoded?):
                guard let encoded = ExecuteCodeField.text(encoded) else {
                    throw MCPError.invalidParams("'files[\(index)].base64' must be a string")
                }
                guard StrictBase64.decodedLength(encoded) <= Workspace.maxInputBytes - total else {
                    throw tooLarge(index)
                }
                guard let decoded = StrictBase64.decode(encoded) else {
                    throw MCPError.invalidParams("'files[\(index)].base64' is not valid base64")
                }
                bytes = decoded
            case (nil, nil): throw MCPError.invalidParams("'files[\(index)]' needs 'text' or 'base64'")
            case (_?, _?): throw MCPError.invalidParams("'files[\(index)]' needs 'text' or 'base64', not both")
            }
            total += bytes.count
            guard total <= Workspace.maxInputBytes else { throw tooLarge(index) }
            files[name] = bytes
        }
        return files

        func tooLarge(_ index: Int) -> MCPError {
            MCPError.invalidParams(
                "'files' up to files[\(index)] exceed the limit of \(Workspace.maxInputBytes) bytes in all")
        }
    }
}
