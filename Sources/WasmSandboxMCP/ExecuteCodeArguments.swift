import Foundation
import MCP
import WasmSandbox

/// The arguments of `execute_code`, checked and clamped to the server's maxima.
///
/// Everything here comes from an untrusted client, so each value is checked for its type and
/// range before any conversion, and every problem is an `invalidParams` error naming the
/// argument: no input can trap the process or pass unbounded work on.
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
        guard let languageName = Self.string(language) else {
            throw MCPError.invalidParams("'language' must be a string")
        }
        guard Self.languages.contains(languageName) else {
            throw MCPError.invalidParams(
                "unknown language '\(languageName)': use one of \(Self.languages.joined(separator: ", "))")
        }
        self.language = languageName
        guard let codeValue = raw["code"] else { throw MCPError.invalidParams("missing argument 'code'") }
        guard let code = Self.string(codeValue) else { throw MCPError.invalidParams("'code' must be a string") }
        let codeBytes: Int
        switch languageName {
        case "wasm":
            guard Self.base64DecodedLength(code) <= configuration.maxCodeBytes else {
                throw MCPError.invalidParams(
                    "'code' encodes more than the server's limit of \(configuration.maxCodeBytes) bytes")
            }
            guard !code.isEmpty else {
                throw MCPError.invalidParams("'code' is empty: send the wasm module base64-encoded")
            }
            guard let bytes = Self.decodeBase64(code) else {
                throw MCPError.invalidParams("'code' is not valid base64 (wasm modules are sent base64-encoded)")
            }
            codeBytes = bytes.count
            input = .wasm(bytes)
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
            guard let text = Self.string(value) else { throw MCPError.invalidParams("'stdin' must be a string") }
            stdin = Array(text.utf8)
        }
        if let value = raw["args"] {
            guard let items = value.arrayValue else {
                throw MCPError.invalidParams("'args' must be an array of strings")
            }
            arguments = try items.enumerated().map { index, item in
                guard let text = Self.string(item) else {
                    throw MCPError.invalidParams("'args[\(index)]' must be a string")
                }
                return text
            }
        }
        if let value = raw["env"] {
            guard let object = value.objectValue else {
                throw MCPError.invalidParams("'env' must be an object of strings")
            }
            for (name, item) in object {
                guard let text = Self.string(item) else {
                    throw MCPError.invalidParams("'env.\(name)' must be a string")
                }
                environment[name] = text
            }
        }
        if let value = raw["files"] { files = try Self.files(value) }

        var clamped: [String] = []
        func limit(_ name: String, default fallback: Int, maximum: Int, bound: ClosedRange<Int>) throws -> Int {
            guard let value = raw[name] else { return fallback }
            let number = try Self.integer(value, name: name, in: bound)
            if number > maximum {
                clamped.append(name)
                return maximum
            }
            return number
        }
        let timeout = try limit(
            "timeout_ms", default: configuration.defaultTimeoutMs, maximum: configuration.maxTimeoutMs,
            bound: LimitBounds.timeoutMs)
        let memory = try limit(
            "memory_mb", default: configuration.defaultMemoryMb, maximum: configuration.maxMemoryMb,
            bound: LimitBounds.memoryMb)
        let fuel =
            try raw["fuel"] == nil
            ? nil
            : limit(
                "fuel", default: 0,
                maximum: configuration.maxFuel.map { Int(clamping: $0) } ?? LimitBounds.fuel.upperBound,
                bound: LimitBounds.fuel)
        // The configuration's own ranges (checked by `validate()`) keep these shifts far from overflow.
        limits = ExecutionLimits(
            timeout: .milliseconds(timeout), fuel: fuel.map(UInt64.init), memoryBytes: memory << 20,
            stdoutBytes: configuration.maxOutputKb << 10, stderrBytes: configuration.maxOutputKb << 10)
        applied = [
            "timeout_ms": .int(timeout), "memory_mb": .int(memory), "fuel": fuel.map { .int($0) } ?? .null,
            "max_output_kb": .int(configuration.maxOutputKb),
        ]
        self.clamped = clamped
    }

    /// An integer argument in `range`. JSON has one number type, so an integral double (`5.0`,
    /// `1e3`) counts; a fraction, a value no `Int` holds (`1e19`, `1e300`) or another type is an
    /// error naming the argument. `Int(exactly:)` is the one conversion, and it cannot trap.
    static func integer(_ value: Value, name: String, in range: ClosedRange<Int>) throws -> Int {
        let number: Int? =
            switch value {
            case .int(let integer): integer
            case .double(let double): Int(exactly: double)
            default: nil
            }
        guard let number, range.contains(number) else {
            throw MCPError.invalidParams(
                "'\(name)' must be an integer from \(range.lowerBound) to \(range.upperBound), got \(json(value))")
        }
        return number
    }

    /// A value as JSON for an error message, shortened.
    static func json(_ value: Value) -> String {
        let text = (try? JSONEncoder().encode(value)).map { String(decoding: $0, as: UTF8.self) } ?? "?"
        return text.count > 40 ? text.prefix(40) + "…" : text
    }

    /// The input files, checked against ``Workspace``'s limits while they are decoded: the count
    /// before anything is decoded, the running total after each file, so an oversized call stops
    /// at the first file past the limit.
    static func files(_ value: Value) throws -> [String: [UInt8]] {
        let usage = "'files' must be an array of {name, text} or {name, base64}"
        guard let items = value.arrayValue else { throw MCPError.invalidParams(usage) }
        guard items.count <= Workspace.maxInputFiles else {
            throw MCPError.invalidParams(
                "'files' has \(items.count) entries, above the limit of \(Workspace.maxInputFiles)")
        }
        var files: [String: [UInt8]] = [:]
        var total = 0
        for (index, item) in items.enumerated() {
            guard let object = item.objectValue else { throw MCPError.invalidParams("'files[\(index)]': \(usage)") }
            if let unknown = object.keys.sorted().first(where: { !["name", "text", "base64"].contains($0) }) {
                throw MCPError.invalidParams("'files[\(index)]' has an unknown field '\(unknown)'")
            }
            guard let name = object["name"].flatMap(Self.string) else {
                throw MCPError.invalidParams("'files[\(index)]' needs a string 'name'")
            }
            guard files[name] == nil else {
                throw MCPError.invalidParams("'files[\(index)].name' repeats '\(name)'")
            }
            let bytes: [UInt8]
            switch (object["text"], object["base64"]) {
            case (let text?, nil):
                guard let text = Self.string(text) else {
                    throw MCPError.invalidParams("'files[\(index)].text' must be a string")
                }
                bytes = Array(text.utf8)
            case (nil, let encoded?):
                guard let encoded = Self.string(encoded) else {
                    throw MCPError.invalidParams("'files[\(index)].base64' must be a string")
                }
                guard Self.base64DecodedLength(encoded) <= Workspace.maxInputBytes - total else {
                    throw tooLarge(index)
                }
                guard let decoded = Self.decodeBase64(encoded) else {
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

    /// How many bytes `text` decodes to if it is valid base64 (a scan, no allocation), so that
    /// an oversized payload is refused before it is decoded.
    static func base64DecodedLength(_ text: String) -> Int {
        var significant = 0
        var padding = 0
        for byte in text.utf8 where !isBase64Whitespace(byte) {
            significant += 1
            padding = byte == 0x3D ? padding + 1 : 0
        }
        return (significant - padding) * 3 / 4
    }

    static func isBase64Whitespace(_ byte: UInt8) -> Bool {
        byte == 0x20 || byte == 0x09 || byte == 0x0A || byte == 0x0D
    }

    /// Strict base64: the standard alphabet, padding optional, ASCII whitespace (line breaks)
    /// allowed between characters; anything else makes the whole string invalid.
    static func decodeBase64(_ text: String) -> [UInt8]? {
        var compact = text.utf8.filter { !isBase64Whitespace($0) }
        // Foundation tolerates some misplaced padding; only a final "=" or "==" is base64.
        let data = compact.prefix { $0 != 0x3D }
        let padding = compact.count - data.count
        guard padding <= 2, compact.suffix(padding).allSatisfy({ $0 == 0x3D }),
            data.allSatisfy({ byte in
                (0x41...0x5A).contains(byte) || (0x61...0x7A).contains(byte) || (0x30...0x39).contains(byte)
                    || byte == 0x2B || byte == 0x2F
            })
        else { return nil }
        switch compact.count % 4 {
        case 0: break
        case 2: compact += [0x3D, 0x3D]
        case 3: compact.append(0x3D)
        default: return nil
        }
        return Data(base64Encoded: Data(compact)).map { [UInt8]($0) }
    }

    /// The text of a string argument. The SDK decodes strings that look like data URLs into
    /// `.data`; those are turned back into their text rather than refused.
    static func string(_ value: Value) -> String? {
        switch value {
        case .string(let text): text
        case .data(let mimeType, let data): data.dataURLEncoded(mimeType: mimeType)
        default: nil
        }
    }
}
