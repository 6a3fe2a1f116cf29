import Foundation
import Metrics
import MetricsTestKit
import Synchronization
import Testing
import WasmSandbox

/// A test's own sandbox reporting to its own metrics, configured further by `adjust`.
func meteredSandbox(_ adjust: (inout SandboxConfiguration) -> Void = { _ in }) throws -> (Sandbox, TestMetrics) {
    let metrics = TestMetrics()
    var configuration = testConfiguration()
    configuration.metricsFactory = metrics
    adjust(&configuration)
    return (try Sandbox(configuration: configuration), metrics)
}

@Suite("Metrics and health")
struct ObservabilityTests {
    @Test func runsAreCountedByStatus() async throws {
        let (sandbox, metrics) = try meteredSandbox()
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

    /// The in-flight meter once recorded the thread count as each run started and never as
    /// one ended, so an idle sandbox showed its last run forever; the queue depth likewise.
    /// Both must come back to zero after runs that end in every way.
    @Test func inFlightAndQueueDepthReturnToZeroAfterEveryKindOfRun() async throws {
        let (sandbox, metrics) = try meteredSandbox {
            $0.maxConcurrentExecutions = 1
            $0.maxQueuedExecutions = 1
        }
        let inFlight = try metrics.expectMeter("wasm_sandbox_executions_in_flight")
        let queueDepth = try metrics.expectMeter("wasm_sandbox_queue_depth")
        func expectIdle(after kind: String, sourceLocation: SourceLocation = #_sourceLocation) {
            #expect(inFlight.lastValue ?? 0 == 0, "in flight after \(kind)", sourceLocation: sourceLocation)
            #expect(queueDepth.lastValue ?? 0 == 0, "queued after \(kind)", sourceLocation: sourceLocation)
        }

        let endings: [(String, ExecutionInput, ExecutionLimits?, ExecutionResult.Status)] = [
            ("a success", .wat(Guests.hello), nil, .ok),
            ("a non-zero exit", .wat(Guests.exit3), nil, .exited),
            ("a trap", .wat(Guests.divideByZero), nil, .trapped),
            ("a timeout", .wat(Guests.spin), ExecutionLimits(timeout: .milliseconds(1)), .timedOut),
            ("a module refused before compiling", .wasm([1, 2, 3]), nil, .invalidInput),
            // Well-formed text, but the body leaves no i32: only the compile finds that.
            ("a failed compile", .wat(#"(module (func (export "_start") (result i32)))"#), nil, .invalidInput),
            ("a failed request", .wat(Guests.hello), ExecutionLimits(memoryBytes: 0), .invalidInput),
        ]
        for (kind, input, limits, status) in endings {
            var request = ExecutionRequest(input)
            request.limits = limits
            let result = await sandbox.execute(request)
            #expect(result.status == status, "\(kind): \(result.message ?? "")")
            expectIdle(after: kind)
        }

        let blocking = Mutex<ExecutionResult?>(nil)
        let thread = Thread { blocking.withLock { $0 = sandbox.executeBlocking(ExecutionRequest(.wat(Guests.hello))) } }
        thread.stackSize = 16 << 20
        thread.start()
        #expect(try await eventually { blocking.withLock { $0 != nil } })
        #expect(blocking.withLock { $0?.status } == .ok)
        expectIdle(after: "a blocking run")

        // One run holds the only thread, one waits in the queue, one is refused; then both are cancelled.
        var slow = ExecutionRequest(.wat(Guests.spin))
        slow.limits = ExecutionLimits(timeout: .seconds(60))
        let deadline = ContinuousClock.now + .seconds(30)
        func waitUntil(_ condition: () -> Bool) async throws {
            while !condition() {
                try #require(ContinuousClock.now < deadline)
                try await Task.sleep(for: .milliseconds(5))
            }
        }
        let running = Task { await sandbox.execute(slow) }
        try await waitUntil { inFlight.lastValue == 1 }
        let waiting = Task { await sandbox.execute(slow) }
        try await waitUntil { queueDepth.lastValue == 1 }
        #expect(await sandbox.execute(slow).status == .busy)
        #expect(inFlight.lastValue == 1)
        #expect(queueDepth.lastValue == 1)
        waiting.cancel()
        running.cancel()
        #expect(await running.value.status == .cancelled)
        #expect(await waiting.value.status == .cancelled)
        expectIdle(after: "a busy answer and cancelled runs, one of them queued")
    }

    @Test func healthRunsTheCanary() async {
        let report = await sharedSandbox.health()
        #expect(report.healthy)
        #expect(report.message.contains("canary"))
    }
}
