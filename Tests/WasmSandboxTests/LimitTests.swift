import Foundation
import Testing

@testable import WasmSandbox

@Suite("Limits that stop untrusted code")
struct LimitTests {
    @Test(arguments: backends) func helloRunsAndReportsItsRun(backend: SandboxBackendKind) async throws {
        try await onBackend(backend) {
            let result = await run(Guests.hello)
            #expect(result.status == .ok)
            #expect(result.exitCode == 0)
            #expect(result.stdoutText == "hello\n")
            #expect(result.memoryPeakBytes == 65536)
            // Without a fuel budget the run uses the unmetered engine and counts no fuel.
            #expect(result.fuelConsumed == nil)
            let metered = await run(Guests.hello, limits: ExecutionLimits(timeout: generousTimeout, fuel: 1_000_000))
            #expect(metered.status == .ok)
            #expect((metered.fuelConsumed ?? 0) > 0)
        }
    }

    @Test(arguments: backends) func infiniteLoopIsStoppedAtTheDeadline(backend: SandboxBackendKind) async throws {
        try await onBackend(backend) {
            let result = await run(Guests.spin, limits: ExecutionLimits(timeout: .milliseconds(300)))
            #expect(result.status == .timedOut)
            #expect(result.duration >= .milliseconds(300))
            // The guest would spin forever: ending at all proves the deadline stopped it. The bound
            // is generous so that a loaded machine (parallel tests, two cores) cannot fail it.
            #expect(result.duration < .seconds(30))
        }
    }

    @Test(arguments: backends) func fuelRunsOut(backend: SandboxBackendKind) async throws {
        try await onBackend(backend) {
            let result = await run(Guests.count, limits: ExecutionLimits(timeout: generousTimeout, fuel: 1_000_000))
            #expect(result.status == .outOfFuel)
            #expect(result.trap == "out_of_fuel")
            #expect((999_000...1_000_000).contains(result.fuelConsumed ?? 0))
        }
    }

    @Test(arguments: backends) func memoryGrowthStopsAtTheCap(backend: SandboxBackendKind) async throws {
        try await onBackend(backend) {
            let cap = 32 << 20
            let result = await run(
                Guests.memoryBomb, limits: ExecutionLimits(timeout: generousTimeout, memoryBytes: cap))
            #expect(result.status == .memoryLimit)
            #expect(result.memoryPeakBytes <= cap)
            #expect(result.memoryPeakBytes > cap - (1 << 20))
            // The host is untouched: the next run works.
            #expect(await run(Guests.hello).status == .ok)
        }
    }

    @Test(arguments: backends) func unboundedRecursionTrapsWithStackOverflow(backend: SandboxBackendKind) async throws {
        try await onBackend(backend) {
            let result = await run(Guests.recursion)
            #expect(result.status == .trapped)
            #expect(result.trap == "stack_overflow")
            #expect(await run(Guests.hello).status == .ok)
        }
    }

    @Test(arguments: backends) func divisionByZeroTraps(backend: SandboxBackendKind) async throws {
        try await onBackend(backend) {
            let result = await run(Guests.divideByZero)
            #expect(result.status == .trapped)
            #expect(result.trap == "integer_division_by_zero")
            #expect(result.message?.contains("divide by zero") == true)
        }
    }

    @Test(arguments: backends) func stdoutFloodIsCutAtTheCap(backend: SandboxBackendKind) async throws {
        try await onBackend(backend) {
            let cap = 64 * 1024
            let result = await run(
                Guests.stdoutFlood, limits: ExecutionLimits(timeout: generousTimeout, stdoutBytes: cap))
            #expect(result.status == .outputLimit)
            #expect(result.stdoutTruncated)
            #expect(result.stdout.count == cap)
            // Writing 64 KiB takes microseconds and the flood never ends by itself: the stop came
            // from the cap, not the 120 s timeout. (Generous: a loaded machine may stall the run.)
            #expect(result.duration < .seconds(30))
        }
    }

    @Test(arguments: backends) func sleepPastTheDeadlineEndsAtTheDeadline(backend: SandboxBackendKind) async throws {
        try await onBackend(backend) {
            let result = await run(
                Guests.sleep, arguments: ["3600000"], limits: ExecutionLimits(timeout: .milliseconds(300)))
            #expect(result.status == .timedOut)
            #expect(result.duration >= .milliseconds(290))
            // The guest would sleep for an hour: ending within seconds proves the deadline woke it.
            // The bound is generous so that a loaded machine cannot fail it.
            #expect(result.duration < .seconds(30))
        }
    }

    @Test(arguments: backends) func shortSleepCompletes(backend: SandboxBackendKind) async throws {
        try await onBackend(backend) {
            let result = await run(Guests.sleep, arguments: ["50"])
            #expect(result.status == .ok, "\(result.message ?? "") exit \(result.exitCode ?? -1)")
            #expect(result.duration >= .milliseconds(50))
        }
    }

    @Test(arguments: backends) func guestReadsStdinToTheEnd(backend: SandboxBackendKind) async throws {
        try await onBackend(backend) {
            let input = (0..<100_000).map { UInt8(truncatingIfNeeded: $0 * 7) }
            let result = await sharedSandbox.execute(request(Guests.cat, stdin: input))
            #expect(result.status == .ok)
            #expect(result.stdout == input)
        }
    }

    @Test(arguments: backends) func procExitReportsTheCode(backend: SandboxBackendKind) async throws {
        try await onBackend(backend) {
            let result = await run(Guests.exit3)
            #expect(result.status == .exited)
            #expect(result.exitCode == 3)
        }
    }

    @Test(arguments: backends) func hostEnvironmentIsInvisible(backend: SandboxBackendKind) async throws {
        try await onBackend(backend) {
            // The test process's own environment (PATH, HOME and the like) is the host's secret here:
            // setting one with setenv would change the environment under every test running in
            // parallel, and setenv is not safe beside threads reading it.
            try #require(!ProcessInfo.processInfo.environment.isEmpty)
            #expect(await run(Guests.environmentCount).exitCode == 0)
            var given = request(Guests.environmentCount)
            given.environment = ["A": "1", "B": "2"]
            #expect(await sharedSandbox.execute(given).exitCode == 2)
        }
    }

    @Test(arguments: backends) func outOfBoundsPointersToHostFunctionsAreFaultsNotCrashes(backend: SandboxBackendKind)
        async throws
    {
        try await onBackend(backend) {
            let result = await run(Guests.badPointers)
            #expect(result.status == .exited)
            #expect(result.exitCode == 11)
            #expect(await run(Guests.hello).stdoutText == "hello\n")
        }
    }

    @Test(arguments: backends) func invalidEnvironmentNamesAreRejected(backend: SandboxBackendKind) async throws {
        try await onBackend(backend) {
            var given = request(Guests.environmentCount)
            given.environment = ["A=B": "1"]
            let result = await sharedSandbox.execute(given)
            #expect(result.status != .ok)
            #expect(
                result.message?.contains("invalid environment variable name 'A=B'") == true, "\(result.message ?? "")")
        }
    }

    @Test(arguments: backends) func argumentsReachTheGuest(backend: SandboxBackendKind) async throws {
        try await onBackend(backend) {
            #expect(await run(Guests.argumentCount, arguments: ["x", "y"]).exitCode == 3)
        }
    }

    /// Starts `guest` for an hour in a sandbox of its own (so that its counters see only this
    /// run), waits until the run is on its thread (seen in the counter, not guessed from a
    /// sleep), then cancels the task.
    func runThenCancel(_ guest: String, arguments: [String] = []) async throws -> ExecutionResult {
        let sandbox = try Sandbox(configuration: testConfiguration())
        // Compile first, so that the run below is the run itself, not its compile.
        let warmUp = await sandbox.execute(
            request(guest, arguments: arguments, limits: ExecutionLimits(timeout: .milliseconds(1))))
        #expect(warmUp.status == .timedOut)
        #expect(try await eventually { sandbox.activeExecutions == 0 })
        let task = Task {
            await sandbox.execute(
                request(guest, arguments: arguments, limits: ExecutionLimits(timeout: .seconds(3600))))
        }
        #expect(try await eventually { sandbox.activeExecutions == 1 })
        task.cancel()
        return await task.value
    }

    // Wasmtime only: WasmKit cannot interrupt a guest that never calls the host, so a
    // cancelled spin runs on until the fuel standing in for its (hour-long) timeout is gone.
    // The README's backend table says so; the sleeping case below holds on both.
    @Test(arguments: [SandboxBackendKind.wasmtime]) func cancellingTheTaskStopsTheRun(backend: SandboxBackendKind)
        async throws
    {
        try await onBackend(backend) {
            let result = try await runThenCancel(Guests.spin)
            #expect(result.status == .cancelled)
            // The run would spin for the hour of its timeout; a minute is far below that and
            // generous on a loaded machine.
            #expect(result.duration < .seconds(60))
            #expect(result.duration > .zero)
        }
    }

    @Test(arguments: backends) func cancellingASleepingRunStopsIt(backend: SandboxBackendKind) async throws {
        try await onBackend(backend) {
            let result = try await runThenCancel(Guests.sleep, arguments: ["3600000"])
            #expect(result.status == .cancelled)
            // The guest would sleep for an hour; a minute is far below that.
            #expect(result.duration < .seconds(60))
            #expect(result.duration > .zero)
        }
    }
}
