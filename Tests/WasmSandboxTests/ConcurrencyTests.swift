import Foundation
import Synchronization
import Testing

@testable import WasmSandbox

@Suite("Many runs at once")
struct ConcurrencyTests {
    @Test func hundredExecutionsAtOnceAllSucceed() async {
        let results = await withTaskGroup(of: ExecutionResult.self) { group in
            for _ in 0..<100 { group.addTask { await run(Guests.hello) } }
            return await group.reduce(into: []) { $0.append($1) }
        }
        #expect(results.count == 100)
        #expect(results.allSatisfy { $0.status == .ok && $0.stdoutText == "hello\n" })
    }

    @Test func oneRunsLimitNeverAffectsAnother() async {
        let short = ExecutionLimits(timeout: .milliseconds(400), memoryBytes: 16 << 20, stdoutBytes: 4096)
        let attacks = [Guests.spin, Guests.memoryBomb, Guests.recursion, Guests.stdoutFlood, Guests.divideByZero]
        let jobs =
            attacks.flatMap { attack in Array(repeating: ("attack", attack, short), count: 3) }
            + Array(repeating: ("hello", Guests.hello, ExecutionLimits()), count: 40)
        let results = await withTaskGroup(of: (String, ExecutionResult).self) { group in
            for (label, guest, limits) in jobs {
                group.addTask { (label, await run(guest, limits: limits)) }
            }
            return await group.reduce(into: []) { $0.append($1) }
        }
        let hellos = results.filter { $0.0 == "hello" }.map(\.1)
        #expect(hellos.count == 40)
        #expect(hellos.allSatisfy { $0.status == .ok && $0.stdoutText == "hello\n" })
        let attackStatuses = Set(results.filter { $0.0 == "attack" }.map(\.1.status))
        #expect(attackStatuses == [.timedOut, .memoryLimit, .trapped, .outputLimit])
    }

    @Test func fullQueueAnswersBusy() async throws {
        var configuration = SandboxConfiguration()
        configuration.maxConcurrentExecutions = 1
        configuration.maxQueuedExecutions = 1
        configuration.diskCacheDirectory = nil
        let sandbox = try Sandbox(configuration: configuration)
        // Compile the module first, so that each request below goes straight to a thread.
        #expect(
            await sandbox.execute(request(Guests.spin, limits: ExecutionLimits(timeout: .milliseconds(1)))).status
                == .timedOut)
        // Runs that would spin for a minute; the test cancels them once it has seen the busy answers.
        let slow = request(Guests.spin, limits: ExecutionLimits(timeout: .seconds(60)))
        let deadline = ContinuousClock.now + .seconds(60)
        func waitUntil(_ condition: () -> Bool) async throws {
            while !condition() {
                try #require(ContinuousClock.now < deadline)
                try await Task.sleep(for: .milliseconds(5))
            }
        }
        // The thread that ran the warm-up counts as active until it has handed back its result.
        try await waitUntil { sandbox.activeExecutions == 0 }
        let first = Task { await sandbox.execute(slow) }
        // Now the only run: once active, it holds the only thread until it is cancelled.
        try await waitUntil { sandbox.activeExecutions == 1 }
        let answered = Counter()
        let others = (0..<3).map { _ in
            Task {
                let result = await sandbox.execute(slow)
                answered.increment()
                return result
            }
        }
        // One waits in the queue; the two beyond it are answered at once (busy).
        try await waitUntil { answered.value == 2 && sandbox.queuedExecutions == 1 }
        first.cancel()
        for task in others { task.cancel() }
        var results = [await first.value]
        for task in others { results.append(await task.value) }
        #expect(results.filter { $0.status == .busy }.count == 2)
        #expect(results.filter { $0.status == .busy }.allSatisfy { $0.message?.contains("full") == true })
        #expect(results.filter { $0.status == .cancelled }.count == 2)
        // Once the queue drains the sandbox serves again.
        #expect(await sandbox.execute(ExecutionRequest(.wat(Guests.hello))).status == .ok)
    }

    /// Measured in a process of its own (`wasm-sandbox-bench soak`, built beside the tests): the other suites run in this
    /// process at the same time and would swamp the figure.
    @Test func tenThousandExecutionsDoNotGrowResidentMemory() throws {
        let binary = URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent()
            .appendingPathComponent("wasm-sandbox-bench")
        let process = Process()
        process.executableURL = binary
        process.arguments = ["soak", "--runs", "10000", "--warmup", "2000"]
        let output = Pipe()
        process.standardOutput = output
        try process.run()
        let data = output.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        let report = try JSONSerialization.jsonObject(with: data) as? [String: Int] ?? [:]
        #expect(process.terminationStatus == 0)
        #expect(report["runs"] == 12_000)
        #expect(report["failures"] == 0)
        let growth = (report["resident_at_end"] ?? .max) - (report["resident_after_warmup"] ?? 0)
        // A leaked store, WASI context or output buffer per run would add tens of MiB here.
        #expect(growth < 16 << 20, "resident memory grew by \(growth >> 10) KiB over 10,000 runs")
    }
}

@Suite("Blocking callers")
struct BlockingCallerTests {
    @Test func blockingCallsBeyondTheSlotsAreBusy() async throws {
        var configuration = SandboxConfiguration()
        configuration.maxConcurrentExecutions = 2
        configuration.diskCacheDirectory = nil
        let sandbox = try Sandbox(configuration: configuration)
        let slow = request(Guests.spin, limits: ExecutionLimits(timeout: .milliseconds(400)))
        let statuses = Mutex<[ExecutionResult.Status]>([])
        let threads = (0..<4).map { _ in
            Thread {
                let status = sandbox.executeBlocking(slow).status
                statuses.withLock { $0.append(status) }
            }
        }
        for thread in threads {
            thread.stackSize = 16 << 20
            thread.start()
        }
        while statuses.withLock({ $0.count }) < 4 { try await Task.sleep(for: .milliseconds(20)) }
        let all = statuses.withLock { $0 }
        #expect(all.filter { $0 == .timedOut }.count == 2)
        #expect(all.filter { $0 == .busy }.count == 2)
        // The async path has its own slots and still works.
        #expect(await sandbox.execute(request(Guests.hello)).status == .ok)
    }
}
