import ArgumentParser

@main
struct WasmSandboxCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "wasm-sandbox",
        abstract: "Run untrusted WebAssembly in Wasmtime sandboxes with hard limits.",
        subcommands: [RunCommand.self, ServeCommand.self, HealthCommand.self, BenchCommand.self, SoakCommand.self]
    )
}
