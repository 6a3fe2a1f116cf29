import Metrics
import MetricsTestKit
import Testing
import WasmSandbox

@Suite("Metrics and health")
struct ObservabilityTests {
    @Test func runsAreCountedByStatus() async throws {
        let metrics = TestMetrics()
        var configuration = SandboxConfiguration()
        configuration.diskCacheDirectory = nil
        configuration.metricsFactory = metrics
        let sandbox = try Sandbox(configuration: configuration)
        _ = await sandbox.execute(ExecutionRequest(.wat(Guests.hello)))
        _ = await sandbox.execute(ExecutionRequest(.wat(Guests.hello)))
        _ = await sandbox.execute(ExecutionRequest(.wat(Guests.exit3)))
        _ = await sandbox.execute(ExecutionRequest(.wasm([1, 2, 3])))

        func runs(_ status: String) throws -> Int64 {
            try metrics.expectCounter("wasm_sandbox_executions_total", [("status", status)]).totalValue
        }
        #expect(try runs("ok") == 2)
        #expect(try runs("exited") == 1)
        #expect(try runs("invalid_input") == 1)
        #expect(try metrics.expectCounter("wasm_sandbox_module_cache_hits_total").totalValue == 1)
        #expect(try metrics.expectCounter("wasm_sandbox_module_cache_misses_total").totalValue == 2)
        #expect(try metrics.expectTimer("wasm_sandbox_module_compile_duration_seconds").values.count == 2)
        #expect(try metrics.expectTimer("wasm_sandbox_execution_duration_seconds").values.count == 4)
    }

    @Test func healthRunsTheCanary() async {
        let report = await sharedSandbox.health()
        #expect(report.healthy)
        #expect(report.message.contains("canary"))
    }
}
