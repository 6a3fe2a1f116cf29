import WasmSandbox

/// When the lines typed at the REPL's prompt make a cell to run, as Python's REPL decides: a
/// line that opens a block (a trailing `:` in Python, `{`, or any bracket left open) asks for
/// more lines, and a blank line ends the block.
enum CellInput {
    static func isComplete(_ lines: [String], language: Language) -> Bool {
        guard let last = lines.last else { return false }
        if last.allSatisfy(\.isWhitespace) { return lines.count > 1 }
        guard lines.count == 1 else { return false }
        let trimmed = last.trimmingTrailingWhitespace
        if trimmed.hasSuffix("\\") { return false }
        if language == .python && trimmed.hasSuffix(":") { return false }
        return openBrackets(in: trimmed) <= 0 && !opensTripleQuote(trimmed)
    }

    /// Brackets opened and not closed, outside string literals on the line.
    static func openBrackets(in line: some StringProtocol) -> Int {
        var depth = 0
        var quote: Character?
        var escaped = false
        for character in line {
            if let open = quote {
                if escaped {
                    escaped = false
                } else if character == "\\" {
                    escaped = true
                } else if character == open {
                    quote = nil
                }
                continue
            }
            switch character {
            case "\"", "'", "`": quote = character
            case "(", "[", "{": depth += 1
            case ")", "]", "}": depth -= 1
            // A Python comment; a JavaScript private name (`#x`) is rare at a prompt.
            case "#": return depth
            default: break
            }
        }
        return depth
    }

    /// Whether the line leaves a Python triple-quoted string open.
    static func opensTripleQuote(_ line: some StringProtocol) -> Bool {
        line.components(separatedBy: "\"\"\"").count % 2 == 0 || line.components(separatedBy: "'''").count % 2 == 0
    }

    /// Piped input's cells: blocks separated by blank lines.
    static func cells(in text: String) -> [String] {
        var cells: [String] = []
        var current: [Substring] = []
        // By `isNewline`, so that "\r\n" (one Character in Swift) ends a line too.
        for line in text.split(omittingEmptySubsequences: false, whereSeparator: \.isNewline) {
            if line.allSatisfy(\.isWhitespace) {
                if !current.isEmpty { cells.append(current.joined(separator: "\n")) }
                current = []
            } else {
                current.append(line)
            }
        }
        if !current.isEmpty { cells.append(current.joined(separator: "\n")) }
        return cells
    }
}

extension String {
    fileprivate var trimmingTrailingWhitespace: Substring {
        self[..<(lastIndex { !$0.isWhitespace }.map { index(after: $0) } ?? startIndex)]
    }
}
