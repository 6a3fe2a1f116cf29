import Foundation
import Testing
import WasmSandbox

@Suite("Limits that stop untrusted code")
struct LimitTests {
    @Test func helloRunsAndReportsItsRun() async {
        let result = await run(Guests.hello)
        #expect(result.status == .ok)
        #expect(result.exitCode == 0)
        #expect(result.stdoutText == "hello\n")
        #expect(result.memoryPeakBytes == 65536)
        // Without a fuel budget the run uses the unmetered engine and counts no fuel.
        #expect(result.fuelConsumed == nil)
        let metered = await run(Guests.hello, limits: ExecutionLimits(fuel: 1_000_000))
        #expect(metered.status == .ok)
        #expect((metered.fuelConsumed ?? 0) > 0)
    }

    @Test func infiniteLoopIsStoppedAtTheDeadline() async {
        let result = await run(Guests.spin, limits: ExecutionLimits(timeout: .milliseconds(300)))
        #expect(result.status == .timedOut)
        #expect(result.duration >= .milliseconds(300))
        #expect(result.duration < .milliseconds(1500))
    }

    @Test func fuelRunsOut() async {
        let result = await run(Guests.count, limits: ExecutionLimits(fuel: 1_000_000))
        #expect(result.status == .outOfFuel)
        #expect(result.trap == "out_of_fuel")
        #expect((999_000...1_000_000).contains(result.fuelConsumed ?? 0))
    }

    @Test func memoryGrowthStopsAtTheCap() async {
        let cap = 32 << 20
        let result = await run(Guests.memoryBomb, limits: ExecutionLimits(memoryBytes: cap))
        #expect(result.status == .memoryLimit)
        #expect(result.memoryPeakBytes <= cap)
        #expect(result.memoryPeakBytes > cap - (1 << 20))
        // The host is untouched: the next run works.
        #expect(await run(Guests.hello).status == .ok)
    }

    @Test func unboundedRecursionTrapsWithStackOverflow() async {
        let result = await run(Guests.recursion)
        #expect(result.status == .trapped)
        #expect(result.trap == "stack_overflow")
        #expect(await run(Guests.hello).status == .ok)
    }

    @Test func divisionByZeroTraps() async {
        let result = await run(Guests.divideByZero)
        #expect(result.status == .trapped)
        #expect(result.trap == "integer_division_by_zero")
        #expect(result.message?.contains("divide by zero") == true)
    }

    @Test func stdoutFloodIsCutAtTheCap() async {
        let cap = 64 * 1024
        let result = await run(Guests.stdoutFlood, limits: ExecutionLimits(stdoutBytes: cap))
        #expect(result.status == .outputLimit)
        #expect(result.stdoutTruncated)
        #expect(result.stdout.count == cap)
        // Writing 64 KiB takes microseconds; the stop comes within a few check intervals.
        #expect(result.duration < .milliseconds(500))
    }

    @Test func sleepPastTheDeadlineEndsAtTheDeadline() async {
        let result = await run(
            Guests.sleep, arguments: ["3600000"], limits: ExecutionLimits(timeout: .milliseconds(300)))
        #expect(result.status == .timedOut)
        #expect(result.duration >= .milliseconds(290))
        #expect(result.duration < .milliseconds(1500))
    }

    @Test func shortSleepCompletes() async {
        let result = await run(Guests.sleep, arguments: ["50"])
        #expect(result.status == .ok, "\(result.message ?? "") exit \(result.exitCode ?? -1)")
        #expect(result.duration >= .milliseconds(50))
    }

    @Test func guestReadsStdinToTheEnd() async {
        let input = (0..<100_000).map { UInt8(truncatingIfNeeded: $0 * 7) }
        let result = await sharedSandbox.execute(request(Guests.cat, stdin: input))
        #expect(result.status == .ok)
        #expect(result.stdout == input)
    }

    @Test func procExitReportsTheCode() async {
        let result = await run(Guests.exit3)
        #expect(result.status == .exited)
        #expect(result.exitCode == 3)
    }

    @Test func hostEnvironmentIsInvisible() async {
        setenv("WASM_SANDBOX_SECRET", "leak", 1)
        #expect(await run(Guests.environmentCount).exitCode == 0)
        var given = request(Guests.environmentCount)
        given.environment = ["A": "1", "B": "2"]
        #expect(await sharedSandbox.execute(given).exitCode == 2)
    }

    @Test func outOfBoundsPointersToHostFunctionsAreFaultsNotCrashes() async {
        let result = await run(Guests.badPointers)
        #expect(result.status == .exited)
        #expect(result.exitCode == 11)
        #expect(await run(Guests.hello).stdoutText == "hello\n")
    }

    @Test func invalidEnvironmentNamesAreRejected() async {
        var given = request(Guests.environmentCount)
        given.environment = ["A=B": "1"]
        let result = await sharedSandbox.execute(given)
        #expect(result.status != .ok)
        #expect(result.message?.contains("invalid environment variable name 'A=B'") == true, "\(result.message ?? "")")
    }

    @Test func argumentsReachTheGuest() async {
        #expect(await run(Guests.argumentCount, arguments: ["x", "y"]).exitCode == 3)
    }

    @Test func cancellingTheTaskStopsTheRun() async {
        let task = Task { await run(Guests.spin, limits: ExecutionLimits(timeout: .seconds(30))) }
        try? await Task.sleep(for: .milliseconds(100))
        task.cancel()
        let result = await task.value
        #expect(result.status == .cancelled)
        #expect(result.duration < .seconds(5))
    }

    @Test func cancellingASleepingRunStopsIt() async {
        let task = Task {
            await run(Guests.sleep, arguments: ["3600000"], limits: ExecutionLimits(timeout: .seconds(30)))
        }
        try? await Task.sleep(for: .milliseconds(100))
        task.cancel()
        let result = await task.value
        #expect(result.status == .cancelled)
        #expect(result.duration < .seconds(5))
    }
}
