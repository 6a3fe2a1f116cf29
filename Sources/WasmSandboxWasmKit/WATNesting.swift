import WasmSandboxCore

/// Refuses WAT nested deeper than WasmKit's text parser can take. The parser recurses once
/// per parenthesised block, some 1.3 KB of stack a level on a debug build: 7,000 nested
/// `(block …)` overflowed an 8 MB thread stack and ended the process (SIGSEGV) before this
/// check. Wasmtime's parser does not recurse there, so the bound is the wasmkit backend's.
enum WATNesting {
    static let maxDepth = 1_000
    /// WAT text the wasmkit backend converts: its text parser allocates some hundred times
    /// the text before the module's counts can be checked (9.6 MB of `(func)`: 902 MB and
    /// 8 s). Larger programs come as binary modules, which are checked before parsing.
    static let maxBytes = 1 << 20

    /// Counts parentheses outside strings and comments; one pass, no allocation.
    static func check(_ text: String) throws(SandboxError) {
        guard text.utf8.count <= maxBytes else {
            throw SandboxError(
                "the WAT text has \(text.utf8.count) bytes; the wasmkit backend converts at most \(maxBytes) (send a binary module, or use the wasmtime backend)"
            )
        }
        var depth = 0
        var commentDepth = 0
        var inString = false
        var escaped = false
        var lineComment = false
        // The byte before, when it can start a two-byte token (`(;`, `;)`, `;;`); 0 when
        // it was consumed by one, so that `(;)` does not read as opening and closing.
        var previous: UInt8 = 0
        for byte in text.utf8 {
            let before = previous
            previous = byte
            if lineComment {
                // WasmKit's lexer ends a line comment at a carriage return too.
                if byte == 0x0A || byte == 0x0D { lineComment = false }
            } else if inString {
                if escaped {
                    escaped = false
                } else if byte == 0x5C {
                    escaped = true
                } else if byte == 0x22 {
                    inString = false
                }
            } else if commentDepth > 0 {
                // Block comments nest: `(;` opens, `;)` closes. As in WasmKit's lexer, the `;`
                // of an inner `(;` may also close (`(;)` inside a comment nets nothing).
                if before == 0x28 && byte == 0x3B {
                    commentDepth += 1
                } else if before == 0x3B && byte == 0x29 {
                    commentDepth -= 1
                    previous = 0
                }
            } else if byte == 0x3B && before == 0x28 {
                depth -= 1  // the `(` just counted opened a comment, not a list
                commentDepth = 1
                previous = 0
            } else if byte == 0x3B && before == 0x3B {
                lineComment = true
            } else if byte == 0x22 {
                inString = true
            } else if byte == 0x28 {
                depth += 1
                guard depth <= maxDepth else {
                    throw SandboxError(
                        "the WAT text nests parentheses more than \(maxDepth) deep; the wasmkit backend's text parser accepts at most \(maxDepth) levels (write deep blocks without folding them, or use the wasmtime backend)"
                    )
                }
            } else if byte == 0x29 {
                depth -= 1
            }
        }
    }
}
