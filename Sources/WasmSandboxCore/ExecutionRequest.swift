/// What to run: a WebAssembly module as binary or WAT text.
public enum ExecutionInput: Sendable, Hashable {
    /// A binary WebAssembly module (a WASI command exporting `_start`).
    case wasm([UInt8])
    /// A module in WebAssembly text format.
    case wat(String)
    /// A JavaScript program, run as a script by the sandbox's QuickJS engine. `console`
    /// writes to stdout and stderr; `scriptArgs` holds the request's arguments.
    case javascript(String)

    /// A Python 3.15 program, run by CPython for WASI (with numpy, pandas, matplotlib and
    /// the rest of its scientific stack) as `python -c SOURCE ARGS...` would run it:
    /// `sys.argv` is `["-c", ARGS...]` and stdin is the request's. Figures shown or left open
    /// are saved as `/workspace/figure-N.png` when the run has a workspace.
    case python(String)

    /// JavaScript from raw bytes, which must be UTF-8.
    ///
    /// - Throws: ``SandboxError`` naming the offset of the first invalid byte.
    public static func javascript(utf8 bytes: [UInt8]) throws(SandboxError) -> ExecutionInput {
        .javascript(try decodeSource(bytes, language: "JavaScript"))
    }

    /// Python from raw bytes, which must be UTF-8.
    ///
    /// - Throws: ``SandboxError`` naming the offset of the first invalid byte.
    public static func python(utf8 bytes: [UInt8]) throws(SandboxError) -> ExecutionInput {
        .python(try decodeSource(bytes, language: "Python"))
    }

    package static func decodeSource(_ bytes: [UInt8], language: String) throws(SandboxError) -> String {
        // Valid sources (nearly all) take the fast path; the slow one finds the offending byte.
        if let text = String(validating: bytes, as: UTF8.self) { return text }
        var decoder = UTF8()
        var iterator = bytes.makeIterator()
        var offset = 0
        var text = ""
        text.reserveCapacity(bytes.count)
        while true {
            switch decoder.decode(&iterator) {
            case .scalarValue(let scalar):
                text.unicodeScalars.append(scalar)
                offset += UTF8.width(scalar)
            case .emptyInput:
                return text
            case .error:
                throw SandboxError("the \(language) source is not valid UTF-8 (at byte \(offset))")
            }
        }
    }
}

/// A host directory mounted into the guest.
public struct Mount: Sendable, Hashable {
    public var hostPath: String
    public var guestPath: String
    public var writable: Bool

    public init(hostPath: String, guestPath: String, writable: Bool = false) {
        self.hostPath = hostPath
        self.guestPath = guestPath
        self.writable = writable
    }
}

/// One execution: the code, its inputs and its limits.
public struct ExecutionRequest: Sendable {
    public var input: ExecutionInput
    /// Arguments after the program name (`argv[1...]`).
    public var arguments: [String] = []
    /// `argv[0]` as the guest sees it.
    public var programName = "main"
    /// The guest's whole environment: nothing comes from the host.
    public var environment: [String: String] = [:]
    /// Bytes the guest reads from stdin; then it sees end of file.
    public var stdin: [UInt8] = []
    /// Host directories the guest may see; none by default.
    public var mounts: [Mount] = []
    /// Limits for this run; `nil` uses the sandbox's defaults.
    public var limits: ExecutionLimits? = nil
    /// A scratch directory mounted writable at ``Workspace/guestPath``; what the guest
    /// writes there is listed in the result and stays until the caller removes the workspace.
    public var workspace: Workspace? = nil
    /// Counts the run's output while it runs, for callers that report progress.
    public var progress: ExecutionProgress? = nil

    public init(_ input: ExecutionInput) { self.input = input }
}
