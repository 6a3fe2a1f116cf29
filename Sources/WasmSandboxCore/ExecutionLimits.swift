/// Per-execution limits. Every run gets them; the defaults suit untrusted snippets.
public struct ExecutionLimits: Sendable, Hashable {
    /// Wall-clock time the guest may run, from the start of instantiation (default 5 s).
    /// Compilation is not counted; module size is capped instead.
    public var timeout: Duration = .seconds(5)
    /// Fuel the guest may burn (roughly one unit per Wasm instruction); `nil` for no budget
    /// beyond the timeout (the default).
    public var fuel: UInt64? = nil
    /// The most linear memory the guest may grow to (default 256 MiB).
    public var memoryBytes = 256 << 20
    /// Bytes of stdout kept; past this the run is stopped (default 1 MiB).
    public var stdoutBytes = 1 << 20
    /// Bytes of stderr kept; past this the run is stopped (default 1 MiB).
    public var stderrBytes = 1 << 20
    /// Bytes the guest may write to files (its workspace and writable mounts) during the
    /// run, every write counted, deletions giving nothing back (default 64 MiB). The write
    /// that would cross it fails with `ENOSPC` and writes nothing.
    public var workspaceBytes = 64 << 20
    /// Files, directories and links the guest may create during the run (default 10,000);
    /// past it, creating fails with `ENOSPC`.
    public var workspaceEntries = 10_000

    public init() {}

    public init(
        timeout: Duration = .seconds(5),
        fuel: UInt64? = nil,
        memoryBytes: Int = 256 << 20,
        stdoutBytes: Int = 1 << 20,
        stderrBytes: Int = 1 << 20
    ) {
        self.timeout = timeout
        self.fuel = fuel
        self.memoryBytes = memoryBytes
        self.stdoutBytes = stdoutBytes
        self.stderrBytes = stderrBytes
    }
}
