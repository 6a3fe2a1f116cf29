/// Cuts the sections of a result's text to a shared budget of characters, keeping the head
/// and the tail of each section that is cut, since a program's first lines say what it did
/// and its last lines how it ended (a traceback, a summary).
///
/// A character here is a Unicode scalar: counted as grapheme clusters, one letter followed
/// by a million combining marks would be one character and pass the budget whole.
enum TextBudget {
    /// Shares `budget` characters among `sections`: sections that fit under an equal share
    /// keep everything and leave their unused share to the others; the rest are cut to what
    /// remains, split evenly.
    static func fit(_ sections: [String], budget: Int) -> [String] {
        var shares = Array(repeating: 0, count: sections.count)
        var remaining = max(budget, 0)
        var left = sections.count
        let lengths = sections.map(\.unicodeScalars.count)
        for index in sections.indices.sorted(by: { lengths[$0] < lengths[$1] }) {
            let share = min(lengths[index], remaining / max(left, 1))
            shares[index] = share
            remaining -= share
            left -= 1
        }
        return zip(sections, shares).map { cut($0, to: $1) }
    }

    /// `text` when it has at most `limit` characters; else its head and tail around a line
    /// saying how many characters were left out.
    static func cut(_ text: String, to limit: Int) -> String {
        let scalars = text.unicodeScalars
        let count = scalars.count
        guard count > limit else { return text }
        let head = limit / 2
        let tail = limit - head
        let dropped = count - head - tail
        let start = String(String.UnicodeScalarView(scalars.prefix(head)))
        let end = String(String.UnicodeScalarView(scalars.suffix(tail)))
        let newlineBefore = start.hasSuffix("\n") || start.isEmpty ? "" : "\n"
        let newlineAfter = end.hasPrefix("\n") || end.isEmpty ? "" : "\n"
        return start + newlineBefore + "[… \(dropped) characters cut here; the structured result has them all …]"
            + newlineAfter + end
    }
}
