import ArgumentParser
import Foundation
import WasmSandbox

struct PrepareCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "prepare",
        abstract: "Compile the JavaScript and Python engines ahead of time (setup runs this).",
        discussion: """
            Writes the compiled engines beside the engine files, for the engine configurations \
            `run` and `serve` use, so no later process compiles them. Compiling the Python engine \
            takes minutes and gigabytes of memory; up-to-date files are left alone.
            """)

    func run() async throws {
        var configuration = SandboxConfiguration()
        configuration.maxConcurrentExecutions = 1
        configuration.instanceAllocation = .onDemand
        configuration.diskCacheDirectory = nil
        let sandbox = try Sandbox(configuration: configuration)
        let prepared = try sandbox.prepareEngines { language, metersFuel in
            let note = language == "Python" ? " (a few minutes)" : ""
            FileHandle.standardError.write(
                Data(
                    "wasm-sandbox: compiling the \(language) engine for runs \(metersFuel ? "with" : "without") a fuel budget\(note)...\n"
                        .utf8))
        }
        for engine in prepared {
            let what =
                engine.compiled
                ? "compiled in \(engine.duration.formatted(.units(allowed: [.seconds], fractionalPart: .show(length: 1))))"
                : "up to date"
            print("\(engine.language) (\(engine.metersFuel ? "fuel metering" : "no fuel metering")): \(what)")
        }
    }
}
