/// A failure of a request or of the sandbox itself, with a message for humans.
public struct SandboxError: Error, Sendable, CustomStringConvertible {
    /// Whose fault it is: the request's (`invalid_input`), the sandbox's (`internal_error`),
    /// or nobody's: the sandbox is full for now (`busy`).
    public enum Kind: Sendable {
        case invalidInput
        case internalError
        case busy
    }

    public var message: String
    public var kind: Kind

    public init(_ message: String, kind: Kind = .invalidInput) {
        self.message = message
        self.kind = kind
    }

    public var description: String { message }
}
