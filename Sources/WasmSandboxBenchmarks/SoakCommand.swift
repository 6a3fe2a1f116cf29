import ArgumentParser
import Foundation
import WasmSandbox
import WasmSandboxCLICommands
import WasmSandboxMCP

struct SoakCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "soak",
        abstract: "Run the canary module (or a Python hello) many times and report whether resident memory grew.",
        discussion: "Prints one JSON object: runs, failures and resident memory (bytes) after warm-up and at the end."
    )

    @Option(help: "Executions after warm-up.")
    var runs = 10_000

    @Option(help: "Executions before the first measurement.")
    var warmup = 2_000

    @Option(help: "Concurrent callers.")
    var clients = 8

    @Flag(help: "Run Python's print('hi') instead of the WAT canary.")
    var python = false

    func validate() throws {
        try checkBounds(runs, "--runs", LimitBounds.iterations)
        try checkBounds(warmup, "--warmup", LimitBounds.iterations)
        try checkBounds(clients, "--clients", LimitBounds.concurrentExecutions)
    }

    func run() async throws {
        var configuration = SandboxConfiguration()
        configuration.diskCacheDirectory = nil
        let sandbox = try Sandbox(configuration: configuration)
        let canary = ExecutionRequest(python ? .python("print('ok')") : .wat(Sandbox.canaryWAT))
        let clients = max(clients, 1)
        func batch(_ count: Int) async -> Int {
            await withTaskGroup(of: Int.self) { group in
                for client in 0..<clients {
                    group.addTask {
                        var failures = 0
                        for _ in stride(from: client, to: count, by: clients) {
                            if await sandbox.execute(canary).stdoutText != "ok\n" { failures += 1 }
                        }
                        return failures
                    }
                }
                return await group.reduce(0, +)
            }
        }
        var failures = await batch(warmup)
        let before = residentBytes()
        failures += await batch(runs)
        let after = residentBytes()
        print(
            try jsonString(
                SoakReport(runs: warmup + runs, failures: failures, residentAfterWarmup: before, residentAtEnd: after)))
        if failures > 0 { throw ExitCode(1) }
    }

    struct SoakReport: Encodable {
        var runs: Int
        var failures: Int
        var residentAfterWarmup: Int
        var residentAtEnd: Int

        enum CodingKeys: String, CodingKey {
            case runs, failures
            case residentAfterWarmup = "resident_after_warmup"
            case residentAtEnd = "resident_at_end"
        }
    }

    /// This process's resident memory, from /proc.
    private func residentBytes() -> Int {
        guard let statm = try? String(contentsOfFile: "/proc/self/statm", encoding: .utf8) else { return 0 }
        let pages = statm.split(separator: " ").dropFirst().first.flatMap { Int($0) } ?? 0
        return pages * Int(sysconf(Int32(_SC_PAGESIZE)))
    }
}
