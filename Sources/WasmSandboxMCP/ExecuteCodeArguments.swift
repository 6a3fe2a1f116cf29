import Foundation
import MCP
import WasmSandbox

/// The arguments of `execute_code`, checked and clamped to the server's maxima.
struct ExecuteCodeArguments {
    var input: ExecutionInput
    var language: String
    var stdin: [UInt8] = []
    var arguments: [String] = []
    var environment: [String: String] = [:]
    var files: [String: [UInt8]] = [:]
    var limits: ExecutionLimits
    /// The limits that applied, as reported back, and the names of those that were clamped.
    var applied: [String: Value]
    var clamped: [String]

    static let languages = ["javascript", "python", "wat", "wasm"]

    /// Parses tool arguments; every problem is an `invalidParams` error naming the argument.
    init(_ raw: [String: Value]?, configuration: MCPServerConfiguration) throws {
        let raw = raw ?? [:]
        let known: Set = ["language", "code", "stdin", "args", "env", "timeout_ms", "memory_mb", "fuel", "files"]
        if let unknown = raw.keys.sorted().first(where: { !known.contains($0) }) {
            throw MCPError.invalidParams("unknown argument '\(unknown)'")
        }
        guard let language = raw["language"] else { throw MCPError.invalidParams("missing argument 'language'") }
        guard let languageName = language.stringValue else {
            throw MCPError.invalidParams("'language' must be a string")
        }
        guard Self.languages.contains(languageName) else {
            throw MCPError.invalidParams(
                "unknown language '\(languageName)': use one of \(Self.languages.joined(separator: ", "))")
        }
        self.language = languageName
        guard let codeValue = raw["code"] else { throw MCPError.invalidParams("missing argument 'code'") }
        guard let code = codeValue.stringValue else { throw MCPError.invalidParams("'code' must be a string") }
        let codeBytes: Int
        switch languageName {
        case "wasm":
            guard let bytes = Data(base64Encoded: code, options: .ignoreUnknownCharacters), !code.isEmpty else {
                throw MCPError.invalidParams("'code' is not valid base64 (wasm modules are sent base64-encoded)")
            }
            codeBytes = bytes.count
            input = .wasm([UInt8](bytes))
        case "wat":
            codeBytes = code.utf8.count
            input = .wat(code)
        case "python":
            codeBytes = code.utf8.count
            input = .python(code)
        default:
            codeBytes = code.utf8.count
            input = .javascript(code)
        }
        guard codeBytes <= configuration.maxCodeBytes else {
            throw MCPError.invalidParams(
                "'code' is \(codeBytes) bytes, above the server's limit of \(configuration.maxCodeBytes) bytes")
        }
        if let value = raw["stdin"] {
            guard let text = value.stringValue else { throw MCPError.invalidParams("'stdin' must be a string") }
            stdin = Array(text.utf8)
        }
        if let value = raw["args"] {
            guard let items = value.arrayValue, let strings = Optional(items.compactMap(\.stringValue)),
                strings.count == items.count
            else { throw MCPError.invalidParams("'args' must be an array of strings") }
            arguments = strings
        }
        if let value = raw["env"] {
            guard let object = value.objectValue else {
                throw MCPError.invalidParams("'env' must be an object of strings")
            }
            for (name, item) in object {
                guard let text = item.stringValue else {
                    throw MCPError.invalidParams("'env.\(name)' must be a string")
                }
                environment[name] = text
            }
        }
        if let value = raw["files"] {
            guard let items = value.arrayValue else {
                throw MCPError.invalidParams("'files' must be an array of {name, text} or {name, base64}")
            }
            for (index, item) in items.enumerated() {
                guard let object = item.objectValue, let name = object["name"]?.stringValue else {
                    throw MCPError.invalidParams("'files[\(index)]' needs a string 'name'")
                }
                if let text = object["text"]?.stringValue {
                    files[name] = Array(text.utf8)
                } else if let encoded = object["base64"]?.stringValue {
                    guard let data = Data(base64Encoded: encoded, options: .ignoreUnknownCharacters) else {
                        throw MCPError.invalidParams("'files[\(index)].base64' is not valid base64")
                    }
                    files[name] = [UInt8](data)
                } else {
                    throw MCPError.invalidParams("'files[\(index)]' needs 'text' or 'base64'")
                }
            }
        }

        var clamped: [String] = []
        func limit(_ name: String, default fallback: Int, maximum: Int) throws -> Int {
            guard let value = raw[name] else { return fallback }
            guard let number = value.intValue ?? value.doubleValue.flatMap({ $0 == $0.rounded() ? Int($0) : nil })
            else { throw MCPError.invalidParams("'\(name)' must be an integer") }
            guard number > 0 else { throw MCPError.invalidParams("'\(name)' must be positive, got \(number)") }
            if number > maximum {
                clamped.append(name)
                return maximum
            }
            return number
        }
        let timeout = try limit(
            "timeout_ms", default: configuration.defaultTimeoutMs, maximum: configuration.maxTimeoutMs)
        let memory = try limit("memory_mb", default: configuration.defaultMemoryMb, maximum: configuration.maxMemoryMb)
        let fuel =
            try raw["fuel"] == nil
            ? nil : limit("fuel", default: 0, maximum: Int(clamping: configuration.maxFuel ?? .max))
        limits = ExecutionLimits(
            timeout: .milliseconds(timeout), fuel: fuel.map(UInt64.init), memoryBytes: memory << 20,
            stdoutBytes: configuration.maxOutputKb << 10, stderrBytes: configuration.maxOutputKb << 10)
        applied = [
            "timeout_ms": .int(timeout), "memory_mb": .int(memory), "fuel": fuel.map { .int($0) } ?? .null,
            "max_output_kb": .int(configuration.maxOutputKb),
        ]
        self.clamped = clamped
    }
}
