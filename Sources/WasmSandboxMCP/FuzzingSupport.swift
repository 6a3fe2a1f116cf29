import MCP
import WasmSandbox

// An internal entry point for the fuzz targets in WasmSandboxFuzzing, in a file of its own
// as SPI so that the fuzzers need neither `@testable` nor edits to the parser's file.

/// Parses `execute_code` arguments as the server does: the limits that would apply, or the
/// error the server would answer with.
@_spi(Fuzzing) public func parseExecuteCodeArguments(
    _ raw: [String: Value]?, configuration: MCPServerConfiguration
) throws -> ExecutionLimits {
    try ExecuteCodePlan(raw, configuration: configuration).limits
}
