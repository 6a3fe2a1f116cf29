import ArgumentParser

/// `wasm-sandbox-bench`: the project's benchmarks, each printing figures next to a baseline
/// measured in the same run (absolute times vary with the machine; ratios hold).
@main
struct BenchmarkCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "wasm-sandbox-bench",
        abstract: "Benchmarks of wasm-sandbox, each next to a baseline measured in the same run.",
        subcommands: [
            LibraryBenchmark.self, ProcessBenchmark.self, MCPBenchmark.self, ReplicasBenchmark.self, SoakCommand.self,
            BackendsBenchmark.self,
        ],
        defaultSubcommand: LibraryBenchmark.self
    )
}
