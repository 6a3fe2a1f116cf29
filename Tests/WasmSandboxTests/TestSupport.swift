import Foundation
import WasmSandbox

/// One sandbox for the tests that need no special configuration, as a server would share one.
let sharedSandbox: Sandbox = {
    var configuration = SandboxConfiguration()
    configuration.diskCacheDirectory = nil
    return try! Sandbox(configuration: configuration)
}()

func request(
    _ input: ExecutionInput,
    arguments: [String] = [],
    stdin: [UInt8] = [],
    limits: ExecutionLimits? = nil,
    workspace: Workspace? = nil
) -> ExecutionRequest {
    var request = ExecutionRequest(input)
    request.arguments = arguments
    request.stdin = stdin
    request.limits = limits
    request.workspace = workspace
    return request
}

func request(_ wat: String, arguments: [String] = [], stdin: [UInt8] = [], limits: ExecutionLimits? = nil)
    -> ExecutionRequest
{
    request(.wat(wat), arguments: arguments, stdin: stdin, limits: limits)
}

func run(_ wat: String, arguments: [String] = [], limits: ExecutionLimits? = nil) async -> ExecutionResult {
    await sharedSandbox.execute(request(wat, arguments: arguments, limits: limits))
}

extension Duration {
    var milliseconds: Double { Double(components.seconds) * 1000 + Double(components.attoseconds) / 1e15 }
}

/// A fresh temporary directory, removed by the caller.
func makeTemporaryDirectory() throws -> URL {
    let url = FileManager.default.temporaryDirectory.appendingPathComponent("wasm-sandbox-test-\(UUID().uuidString)")
    try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
    return url
}
