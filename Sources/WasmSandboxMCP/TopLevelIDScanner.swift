import MCP

/// Finds the top-level `"id"` of a JSON-RPC message as its bytes stream past, without keeping
/// them: for a message too large to hold, whose error answer still needs its id. Tracks only
/// nesting, strings and the key being read, so memory stays constant whatever the size.
struct TopLevelIDScanner {
    private var depth = 0
    private var inString = false
    private var escaped = false
    /// At depth 1, after `{` or `,`: the next string is a key.
    private var expectingKey = false
    /// The key being read, when it is one: its first bytes and its length.
    private var readingKey = false
    private var key: [UInt8] = []
    private var keyLength = 0
    /// After `"id":` at depth 1, until the value starts.
    private var awaitingValue = false
    private var readingValue = false
    private var valueIsString = false
    private var value: [UInt8] = []
    private(set) var id: ID?

    private static let maxValueBytes = 256

    mutating func scan(_ bytes: some Sequence<UInt8>) {
        for byte in bytes where id == nil { step(byte) }
    }

    /// Ends a number the message's end cut off.
    mutating func finish() {
        if readingValue, !valueIsString { finishValue() }
    }

    private mutating func step(_ byte: UInt8) {
        if readingValue {
            if valueIsString {
                if byte == UInt8(ascii: "\"") {
                    inString = false
                    finishValue()
                } else if byte == UInt8(ascii: "\\") || value.count >= Self.maxValueBytes {
                    // Escaped or long ids are not worth decoding here: answer with a null id,
                    // and go on skipping the string.
                    readingValue = false
                    escaped = byte == UInt8(ascii: "\\")
                } else {
                    value.append(byte)
                }
                return
            }
            if byte == UInt8(ascii: "-") || (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(byte) {
                if value.count < 20 { value.append(byte) }
                return
            }
            if byte == UInt8(ascii: ".") || byte == UInt8(ascii: "e") || byte == UInt8(ascii: "E") {
                // A fraction or an exponent: not an id a request can have.
                readingValue = false
                return
            }
            finishValue()
        }
        if inString {
            if escaped {
                escaped = false
            } else if byte == UInt8(ascii: "\\") {
                escaped = true
                // A key with an escape is never read as "id": `"i\"d"` is not `"id"`.
                if readingKey { keyLength += 2 }
            } else if byte == UInt8(ascii: "\"") {
                inString = false
                if readingKey {
                    readingKey = false
                    awaitingValue = keyLength == 2 && key == Array("id".utf8)
                }
            } else if readingKey {
                keyLength += 1
                if key.count < 2 { key.append(byte) }
            }
            return
        }
        switch byte {
        case UInt8(ascii: "\""):
            inString = true
            if depth == 1, expectingKey {
                expectingKey = false
                readingKey = true
                key = []
                keyLength = 0
            } else if depth == 1, awaitingValue {
                awaitingValue = false
                readingValue = true
                valueIsString = true
                value = []
            }
        case UInt8(ascii: "{"), UInt8(ascii: "["):
            depth += 1
            awaitingValue = false
            expectingKey = depth == 1 && byte == UInt8(ascii: "{")
        case UInt8(ascii: "}"), UInt8(ascii: "]"):
            depth -= 1
        case UInt8(ascii: ","):
            if depth == 1 { expectingKey = true }
        case UInt8(ascii: "-"), UInt8(ascii: "0")...UInt8(ascii: "9"):
            if depth == 1, awaitingValue {
                awaitingValue = false
                readingValue = true
                valueIsString = false
                value = [byte]
            }
        case UInt8(ascii: ":"), 0x20, 0x09, 0x0A, 0x0D:
            break
        default:
            // `true`, `null`, …: not an id this scanner reports.
            if depth == 1 { awaitingValue = false }
        }
    }

    private mutating func finishValue() {
        readingValue = false
        let text = String(decoding: value, as: UTF8.self)
        id = valueIsString ? .string(text) : Int(text).map { .number($0) }
    }
}
