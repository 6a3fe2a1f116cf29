import Foundation

/// Defaults and maxima of the MCP server. Requested limits above a maximum are clamped, and
/// the result says which limits applied.
///
/// Every field can come from the environment (`MCP_SANDBOX_*`, see ``init(environment:)``);
/// the CLI's flags override it.
public struct MCPServerConfiguration: Sendable {
    public var defaultTimeoutMs = 5_000
    public var maxTimeoutMs = 30_000
    public var defaultMemoryMb = 256
    public var maxMemoryMb = 1_024
    /// The largest fuel budget a call may ask for; `nil` for no maximum.
    public var maxFuel: UInt64? = nil
    /// Cap on stdout and on stderr, each.
    public var maxOutputKb = 1_024
    /// The largest `code` accepted, in bytes (for `wasm`, of the decoded module).
    public var maxCodeBytes = 1 << 20
    /// Workspace files at most this large come back inline in the result.
    public var maxInlineFileBytes = 64 * 1024
    /// Executions running at once; more wait in a queue, and past it calls get `busy`.
    public var maxConcurrentExecutions = 20
    public var maxQueuedExecutions = 100

    public init() {}

    /// Reads `MCP_SANDBOX_DEFAULT_TIMEOUT_MS`, `MCP_SANDBOX_MAX_TIMEOUT_MS`,
    /// `MCP_SANDBOX_DEFAULT_MEMORY_MB`, `MCP_SANDBOX_MAX_MEMORY_MB`, `MCP_SANDBOX_MAX_FUEL`,
    /// `MCP_SANDBOX_MAX_OUTPUT_KB`, `MCP_SANDBOX_MAX_CODE_BYTES`,
    /// `MCP_SANDBOX_MAX_INLINE_FILE_BYTES`, `MCP_SANDBOX_MAX_CONCURRENT` and
    /// `MCP_SANDBOX_MAX_QUEUED`; a malformed value is an error naming the variable.
    public init(environment: [String: String]) throws {
        func read(_ name: String, into value: inout Int) throws {
            guard let text = environment["MCP_SANDBOX_\(name)"] else { return }
            guard let number = Int(text), number > 0 else {
                throw ConfigurationError("MCP_SANDBOX_\(name) must be a positive integer, got '\(text)'")
            }
            value = number
        }
        try read("DEFAULT_TIMEOUT_MS", into: &defaultTimeoutMs)
        try read("MAX_TIMEOUT_MS", into: &maxTimeoutMs)
        try read("DEFAULT_MEMORY_MB", into: &defaultMemoryMb)
        try read("MAX_MEMORY_MB", into: &maxMemoryMb)
        try read("MAX_OUTPUT_KB", into: &maxOutputKb)
        try read("MAX_CODE_BYTES", into: &maxCodeBytes)
        try read("MAX_INLINE_FILE_BYTES", into: &maxInlineFileBytes)
        try read("MAX_CONCURRENT", into: &maxConcurrentExecutions)
        try read("MAX_QUEUED", into: &maxQueuedExecutions)
        var fuel = 0
        try read("MAX_FUEL", into: &fuel)
        if fuel > 0 { maxFuel = UInt64(fuel) }
        try validate()
    }

    /// Checks that defaults fit under maxima.
    public func validate() throws {
        guard defaultTimeoutMs <= maxTimeoutMs, defaultMemoryMb <= maxMemoryMb else {
            throw ConfigurationError(
                "defaults must not exceed maxima (timeout \(defaultTimeoutMs)/\(maxTimeoutMs) ms, memory \(defaultMemoryMb)/\(maxMemoryMb) MiB)"
            )
        }
    }
}

/// A configuration value that cannot be used.
public struct ConfigurationError: Error, CustomStringConvertible {
    public var description: String
    init(_ description: String) { self.description = description }
}
