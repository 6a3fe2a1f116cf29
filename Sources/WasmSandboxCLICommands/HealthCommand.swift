import ArgumentParser
import WasmSandbox

struct HealthCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "health", abstract: "Run the canary module and report whether the sandbox works.")

    func run() async throws {
        var configuration = SandboxConfiguration()
        configuration.maxConcurrentExecutions = 1
        configuration.diskCacheDirectory = nil
        let report = await (try Sandbox(configuration: configuration)).health()
        print(try jsonString(report))
        if !report.healthy { throw ExitCode(1) }
    }
}
