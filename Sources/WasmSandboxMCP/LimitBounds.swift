/// The widest values that a limit may take from outside input: a tool call, a command-line
/// flag or an `MCP_SANDBOX_*` variable. A value beyond its bound is rejected with a message
/// naming it; it is never converted first, so nothing out of range can trap or wrap.
///
/// The bounds are deliberately generous: the server's own maxima (which clamp tool calls) are
/// usually much lower.
public enum LimitBounds {
    /// Wall-clock limits: 24 hours, in milliseconds.
    public static let timeoutMs = 1...86_400_000
    /// Linear memory: 4096 MiB, all a 32-bit WebAssembly memory can address.
    public static let memoryMb = 1...4_096
    /// Caps on stdout and stderr: 1 GiB each, in KiB.
    public static let outputKb = 1...(1 << 20)
    /// Fuel: 2^53, the largest integer a JSON number carries exactly.
    public static let fuel = 1...(1 << 53)
    /// Program sources and modules: 64 MiB, the sandbox's module cap.
    public static let codeBytes = 1...(64 << 20)
    /// Bytes of workspace files returned inline, per file or all together: 1 GiB.
    public static let inlineBytes = 0...(1 << 30)
    /// Executions running at once (each has a thread of its own).
    public static let concurrentExecutions = 1...1_024
    /// Executions waiting for a thread.
    public static let queuedExecutions = 0...1_000_000
    /// Open HTTP connections.
    public static let connections = 1...1_000_000
    /// MCP sessions over HTTP.
    public static let sessions = 1...1_000_000
    /// Code sessions open at once: each holds an instance slot of the pooling allocator.
    public static let codeSessions = 0...10_000
    /// Memory of all code sessions together: 1 TiB, in MiB.
    public static let sessionsMemoryMb = 1...(1 << 20)
    /// Durations of the HTTP server (timeouts, stream lifetimes): 24 hours, in seconds.
    public static let seconds = 1...86_400
    /// One JSON-RPC message (a stdio line or an HTTP body): 1 GiB.
    public static let messageBytes = 4_096...(1 << 30)
    /// The text a model reads of one result, in characters.
    public static let textChars = 1_000...100_000_000
    /// Images returned as image content by one result.
    public static let images = 0...100
    /// Tool calls a client may make per quota window.
    public static let quotaCalls = 1...1_000_000_000
    /// Run time a client may use per quota window, in seconds.
    public static let quotaSeconds = 1...1_000_000_000
    /// Repetitions of the CLI's bench and soak commands.
    public static let iterations = 0...100_000_000

    /// Reads the decimal integer `text` for `name` when it lies in `range`; the error names
    /// `name` and the range. `Int(_:)` returns `nil` on overflow, so no text can trap here.
    public static func parse(_ text: String, name: String, in range: ClosedRange<Int>) throws(BoundsError) -> Int {
        guard let number = Int(text), range.contains(number) else {
            throw BoundsError(name: name, range: range, got: "'\(text)'")
        }
        return number
    }

    /// Checks an integer that is already an `Int`.
    public static func check(_ number: Int, name: String, in range: ClosedRange<Int>) throws(BoundsError) {
        guard range.contains(number) else { throw BoundsError(name: name, range: range, got: "\(number)") }
    }
}

/// A number outside the range its setting allows.
public struct BoundsError: Error, CustomStringConvertible, Sendable {
    public var name: String
    public var range: ClosedRange<Int>
    public var got: String

    public init(name: String, range: ClosedRange<Int>, got: String) {
        self.name = name
        self.range = range
        self.got = got
    }

    public var description: String {
        "\(name) must be an integer from \(range.lowerBound) to \(range.upperBound), got \(got)"
    }
}
