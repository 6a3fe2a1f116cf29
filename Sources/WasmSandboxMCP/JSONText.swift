import MCP

/// Writes the SDK's `Value` as compact JSON text. A tool's answer is built as a `Value`
/// (``ValueEncoder``) and written here in one pass: `JSONEncoder` took a fifth of a small
/// call's time walking the same tree through its generic containers.
enum JSONText {
    static func write(_ value: Value, to out: inout [UInt8]) {
        switch value {
        case .null: out += Array("null".utf8)
        case .bool(let flag): out += Array((flag ? "true" : "false").utf8)
        case .int(let integer): out += Array(String(integer).utf8)
        case .double(let double):
            // JSON has no NaN or infinities; the encoder would throw, this writes null.
            out += double.isFinite ? Array(String(double).utf8) : Array("null".utf8)
        case .string(let text): string(text, to: &out)
        case .data(let mimeType, let data): string(data.dataURLEncoded(mimeType: mimeType), to: &out)
        case .array(let items):
            out.append(UInt8(ascii: "["))
            for (index, item) in items.enumerated() {
                if index > 0 { out.append(UInt8(ascii: ",")) }
                write(item, to: &out)
            }
            out.append(UInt8(ascii: "]"))
        case .object(let members):
            out.append(UInt8(ascii: "{"))
            for (index, key) in members.keys.sorted().enumerated() {
                if index > 0 { out.append(UInt8(ascii: ",")) }
                string(key, to: &out)
                out.append(UInt8(ascii: ":"))
                write(members[key]!, to: &out)
            }
            out.append(UInt8(ascii: "}"))
        }
    }

    static func string(_ text: String, to out: inout [UInt8]) {
        out.append(UInt8(ascii: "\""))
        for byte in text.utf8 {
            switch byte {
            case UInt8(ascii: "\""): out += [UInt8(ascii: "\\"), UInt8(ascii: "\"")]
            case UInt8(ascii: "\\"): out += [UInt8(ascii: "\\"), UInt8(ascii: "\\")]
            case 0x0A: out += [UInt8(ascii: "\\"), UInt8(ascii: "n")]
            case 0x0D: out += [UInt8(ascii: "\\"), UInt8(ascii: "r")]
            case 0x09: out += [UInt8(ascii: "\\"), UInt8(ascii: "t")]
            case 0..<0x20:
                let hex = Array("0123456789abcdef".utf8)
                out += [UInt8(ascii: "\\"), UInt8(ascii: "u"), 0x30, 0x30, hex[Int(byte >> 4)], hex[Int(byte & 0xF)]]
            default: out.append(byte)
            }
        }
        out.append(UInt8(ascii: "\""))
    }

    /// A JSON-RPC answer to request `id` with `result`.
    static func response(id: ID, result: Value) -> [UInt8] {
        var out = Array(#"{"jsonrpc":"2.0","id":"#.utf8)
        switch id {
        case .number(let number): out += Array(String(number).utf8)
        case .string(let text): string(text, to: &out)
        }
        out += Array(#","result":"#.utf8)
        write(result, to: &out)
        out.append(UInt8(ascii: "}"))
        return out
    }
}
