import Foundation

/// Base64 as `execute_code` takes it (wasm modules, input files): strict about the alphabet
/// and padding, since Foundation's decoder tolerates input that is not base64.
enum StrictBase64 {
    /// How many bytes `text` decodes to if it is valid base64 (a scan, no allocation), so that
    /// an oversized payload is refused before it is decoded.
    static func decodedLength(_ text: String) -> Int {
        var significant = 0
        var padding = 0
        for byte in text.utf8 where !isWhitespace(byte) {
            significant += 1
            padding = byte == 0x3D ? padding + 1 : 0
        }
        return (significant - padding) * 3 / 4
    }

    /// The standard alphabet, padding optional, ASCII whitespace (line breaks) allowed between
    /// characters; anything else makes the whole string invalid.
    static func decode(_ text: String) -> [UInt8]? {
        var compact = text.utf8.filter { !isWhitespace($0) }
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

    private static func isWhitespace(_ byte: UInt8) -> Bool {
        byte == 0x20 || byte == 0x09 || byte == 0x0A || byte == 0x0D
    }
}
