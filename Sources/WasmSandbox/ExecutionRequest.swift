/// What to run: a WebAssembly module as binary or WAT text.
public enum ExecutionInput: Sendable, Hashable {
    /// A binary WebAssembly module (a WASI command exporting `_start`).
    case wasm([UInt8])
    /// A module in WebAssembly text format.
    case wat(String)
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

    public init(_ input: ExecutionInput) { self.input = input }
}
