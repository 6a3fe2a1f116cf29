import MCP

/// The name a client gives a session (`session_id`): 1 to 128 letters, digits, `_`, `-`, `.`
/// or `:`. Names are the client's own, scoped to its connection: the same name on two
/// connections is two sessions.
enum SessionName {
    static let maxLength = 128
    static let expected = "a string of 1 to \(maxLength) letters, digits, '_', '-', '.' or ':'"

    static var schema: [String: Value] {
        // The length is in the pattern: OpenAI's strict mode takes `pattern` but not `minLength`/`maxLength`.
        ["type": "string", "pattern": .string("^[A-Za-z0-9_.:-]{1,\(maxLength)}$")]
    }

    static func isValid(_ name: String) -> Bool {
        (1...maxLength).contains(name.utf8.count)
            && name.utf8.allSatisfy { byte in
                switch byte {
                case UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "A")...UInt8(ascii: "Z"),
                    UInt8(ascii: "0")...UInt8(ascii: "9"), UInt8(ascii: "_"), UInt8(ascii: "-"), UInt8(ascii: "."),
                    UInt8(ascii: ":"):
                    true
                default: false
                }
            }
    }
}
