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
        // Only the spin is stopped by its deadline; the other attacks meet their own limit,
        // however long a loaded machine takes to get them there.
        let caps = ExecutionLimits(timeout: generousTimeout, memoryBytes: 16 << 20, stdoutBytes: 4096)
        let attacks: [(String, ExecutionLimits, ExecutionResult.Status)] = [
            (Guests.spin, ExecutionLimits(timeout: .milliseconds(400)), .timedOut),
            (Guests.memoryBomb, caps, .memoryLimit),
            (Guests.recursion, caps, .trapped),
            (Guests.stdoutFlood, caps, .outputLimit),
            (Guests.divideByZero, caps, .trapped),
        ]
        let jobs =
            attacks.flatMap { attack in Array(repeating: attack, count: 3) }
            + Array(repeating: (Guests.hello, ExecutionLimits(timeout: generousTimeout), .ok), count: 40)
        let results = await withTaskGroup(of: (ExecutionResult.Status, ExecutionResult).self) { group in
            for (guest, limits, expected) in jobs {
                group.addTask { (expected, await run(guest, limits: limits)) }
            }
            return await group.reduce(into: []) { $0.append($1) }
        }
        #expect(results.count == 55)
        for (expected, result) in results {
            #expect(result.status == expected, "\(result.message ?? "")")
        }
        let hellos = results.filter { $0.0 == .ok }.map(\.1)
        #expect(hellos.count == 40)
        #expect(hellos.allSatisfy { $0.stdoutText == "hello\n" })
    }

    @Test func fullQueueAnswersBusy() async throws {
        var configuration = testConfiguration()
        configuration.maxConcurrentExecutions = 1
        configuration.maxQueuedExecutions = 1
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
        var configuration = testConfiguration()
        configuration.maxConcurrentExecutions = 2
        let sandbox = try Sandbox(configuration: configuration)
        let directory = try makeTemporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        func exists(_ name: String) -> Bool {
            FileManager.default.fileExists(atPath: directory.appendingPathComponent(name).path)
        }
        // Each call runs a guest that says it started, then holds its slot until "go" exists.
        let results = Mutex<[String: ExecutionResult]>([:])
        func start(_ name: String) {
            var gated = request(Guests.gate, arguments: ["started-\(name)", "go"])
            gated.mounts = [Mount(hostPath: directory.path, guestPath: "/data", writable: true)]
            let held = gated
            let thread = Thread {
                let result = sandbox.executeBlocking(held)
                results.withLock { $0[name] = result }
            }
            thread.stackSize = 16 << 20
            thread.start()
        }
        start("a")
        start("b")
        #expect(try await eventually { exists("started-a") && exists("started-b") })
        // Both slots are held: two more calls are answered busy at once, without running.
        start("c")
        start("d")
        #expect(try await eventually { results.withLock { $0["c"] != nil && $0["d"] != nil } })
        // The async path has its own slots and works while the blocking ones are all held.
        #expect(await sandbox.execute(request(Guests.hello)).status == .ok)
        try Data().write(to: directory.appendingPathComponent("go"))
        #expect(try await eventually { results.withLock { $0.count == 4 } })
        let all = results.withLock { $0 }
        for name in ["a", "b"] {
            #expect(all[name]?.status == .ok, "\(name): \(all[name]?.message ?? "no result")")
        }
        for name in ["c", "d"] {
            #expect(all[name]?.status == .busy, "\(name): \(all[name]?.message ?? "no result")")
            #expect(all[name]?.message == "all blocking execution slots are in use")
            #expect(!exists("started-\(name)"))
        }
    }
}
