import Foundation
import WasmSandbox

/// The timeout of runs whose timing is not what a test checks: generous, so that the suite
/// holds on a loaded machine (tests run in parallel, often on two cores with other work).
let generousTimeout: Duration = .seconds(120)

/// The backends the shared suites run on, each test once per backend.
let backends = SandboxBackendKind.allCases

/// The backend of the test running now (set by ``onBackend(_:_:)``; Wasmtime otherwise).
enum TestBackend {
    @TaskLocal static var current = SandboxBackendKind.wasmtime
}

/// Runs a test's body with `backend` as the one its sandboxes use.
func onBackend(_ backend: SandboxBackendKind, _ body: () async throws -> Void) async throws {
    try await TestBackend.$current.withValue(backend) { try await body() }
}

func onBackend(_ backend: SandboxBackendKind, _ body: () throws -> Void) throws {
    try TestBackend.$current.withValue(backend) { try body() }
}

/// A configuration for a test's own sandbox, on the current test's backend: no disk cache,
/// and a generous default timeout.
func testConfiguration() -> SandboxConfiguration {
    var configuration = SandboxConfiguration()
    configuration.diskCacheDirectory = nil
    configuration.defaultLimits.timeout = generousTimeout
    configuration.backend = TestBackend.current
    // The suites compile a few hundred distinct modules at once on two cores; the default
    // queue (64) is a server's, and the tests of `busy` set their own.
    configuration.maxQueuedCompiles = 1024
    return configuration
}

/// One sandbox per backend for the tests that need no special configuration, as a server
/// would share one.
private let sharedSandboxes: [SandboxBackendKind: Sandbox] = Dictionary(
    uniqueKeysWithValues: backends.map { backend in
        TestBackend.$current.withValue(backend) { (backend, try! Sandbox(configuration: testConfiguration())) }
    })

/// The shared sandbox of the current test's backend.
var sharedSandbox: Sandbox { sharedSandboxes[TestBackend.current]! }

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

/// Waits, polling, until `condition` holds or `seconds` pass (a generous bound: the machine
/// may be loaded). Returns whether it held: use as `#expect(try await eventually { ... })`.
func eventually(within seconds: Int = 30, _ condition: () async -> Bool) async throws -> Bool {
    let deadline = ContinuousClock.now + .seconds(seconds)
    while ContinuousClock.now < deadline {
        if await condition() { return true }
        try await Task.sleep(for: .milliseconds(20))
    }
    return await condition()
}
