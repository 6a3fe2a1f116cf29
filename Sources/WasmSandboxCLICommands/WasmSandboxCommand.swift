import ArgumentParser
import Foundation

/// The `wasm-sandbox` command: `run`, `repl`, `serve`, `health`, `prepare` and `token`. The executable only calls
/// ``runFromCommandLine()``, so every command can be parsed and run in-process by tests.
public struct WasmSandboxCommand: AsyncParsableCommand {
    public static let configuration = CommandConfiguration(
        commandName: "wasm-sandbox",
        abstract: "Run untrusted WebAssembly, JavaScript and Python in Wasmtime sandboxes with hard limits.",
        subcommands: [
            RunCommand.self, ReplCommand.self, ServeCommand.self, HealthCommand.self, PrepareCommand.self,
            TokenCommand.self,
        ]
    )

    public init() {}

    /// The most command-line arguments accepted, guest arguments included.
    static let maxArguments = 4_096
    /// The most arguments ArgumentParser is given. Its parsing time grows with the square of
    /// their number (2,000 `--env` flags take seconds, 20,000 half a minute), so a longer
    /// command line is refused before parsing; `run`'s guest arguments after `--` are split
    /// off first and do not count.
    static let maxParsedArguments = 1_024

    /// Parses the process's arguments and runs the command they name, refusing command lines
    /// too long to parse in bounded time.
    public static func runFromCommandLine() async {
        let arguments = Array(CommandLine.arguments.dropFirst())
        let parsed = splitGuestArguments(arguments).options
        if arguments.count > maxArguments || parsed.count > maxParsedArguments {
            let message =
                arguments.count > maxArguments
                ? "\(arguments.count) command-line arguments exceed the limit of \(maxArguments)"
                : "\(parsed.count) options and values exceed the limit of \(maxParsedArguments)"
            FileHandle.standardError.write(Data("wasm-sandbox: \(message)\n".utf8))
            Foundation.exit(ExitCode.validationFailure.rawValue)
        }
        do {
            var command = try parseAsRoot(parsed)
            if var asynchronous = command as? any AsyncParsableCommand {
                try await asynchronous.run()
            } else {
                try command.run()
            }
        } catch {
            exit(withError: error)
        }
    }

    /// Splits `run`'s arguments at the first `--`: the options for ArgumentParser, and the
    /// guest's arguments after it (`nil` for other commands or without `--`).
    static func splitGuestArguments(_ arguments: [String]) -> (options: [String], guest: [String]?) {
        guard arguments.first == "run", let terminator = arguments.firstIndex(of: "--") else {
            return (arguments, nil)
        }
        return (Array(arguments[..<terminator]), Array(arguments[(terminator + 1)...]))
    }
}
