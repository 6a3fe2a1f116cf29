import ArgumentParser
import Foundation
import WasmSandbox
import WasmSandboxMCP

struct RunCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "run",
        abstract: "Run a WASI command module (.wasm, .wat), a JavaScript program (.js) or a Python one (.py).",
        discussion: """
            Without --json the guest's stdout and stderr pass through and the exit status is the \
            guest's; sandbox stops exit with 124 (timed out), 137 (memory limit), 134 (trapped), \
            152 (out of fuel), 153 (output limit), 65 (invalid input), 75 (busy), 70 (internal error).
            """
    )

    @Argument(help: "The program to run: a .wasm binary, .wat text, .js or .py source. Omit with --code.")
    var file: String?

    @Option(help: "The program's language when its file name does not say: wasm, wat, javascript (js), python (py).")
    var lang: LanguageArgument?

    @Option(help: "Inline program source instead of a file: JavaScript unless --lang says wat or python.")
    var code: String?

    @Option(name: .customLong("timeout-ms"), help: "Wall-clock limit in milliseconds (default 5000, at most 86400000).")
    var timeoutMs: Int?

    @Option(name: .customLong("memory-mb"), help: "Linear memory limit in MiB (default 256, at most 4096).")
    var memoryMb: Int?

    @Option(help: "Fuel budget, about one unit per Wasm instruction (default: none, at most 2^53).")
    var fuel: UInt64?

    @Option(
        name: .customLong("max-output-kb"),
        help: "Cap on stdout and on stderr, each, in KiB (default 1024, at most 1048576).")
    var maxOutputKb: Int?

    @Option(help: "A file whose bytes the guest reads on stdin (default: empty).")
    var stdin: String?

    @Option(name: .customLong("env"), help: "An environment variable K=V for the guest; repeatable.")
    var environment: [String] = []

    @Option(
        name: .customLong("dir"),
        help: "Mount HOST[::GUEST][:rw] into the guest, read-only unless :rw is given; repeatable.")
    var directories: [String] = []

    @Flag(help: "Print one JSON object describing the run instead of passing output through.")
    var json = false

    @Option(help: "The engine: wasmtime (default) or wasmkit, the interpreter.")
    var backend = SandboxBackendKind.wasmtime
    @Option(name: .customLong("cache-dir"), help: "Directory of the compiled-module cache.")
    var cacheDirectory: String?

    @Flag(name: .customLong("no-cache"), help: "Do not read or write the on-disk module cache.")
    var noCache = false

    @Argument(parsing: .postTerminator, help: "Arguments passed to the guest after --.")
    var arguments: [String] = []

    func validate() throws {
        if (file == nil) == (code == nil) { throw ValidationError("give either a FILE or --code, not both") }
        if code != nil && lang?.language == .wasm {
            throw ValidationError("--code takes text: WAT, JavaScript or Python")
        }
        // Checked here, before `<< 20`, `<< 10` or `.milliseconds` could overflow or trap.
        try checkBounds(timeoutMs, "--timeout-ms", LimitBounds.timeoutMs)
        try checkBounds(memoryMb, "--memory-mb", LimitBounds.memoryMb)
        try checkBounds(maxOutputKb, "--max-output-kb", 0...LimitBounds.outputKb.upperBound)
        if let fuel, fuel < 1 || fuel > UInt64(LimitBounds.fuel.upperBound) {
            throw ValidationError(BoundsError(name: "--fuel", range: LimitBounds.fuel, got: "\(fuel)").description)
        }
    }

    func run() async throws {
        let result = try await outcome()
        if json {
            print(try jsonString(result))
        } else {
            FileHandle.standardOutput.write(Data(result.stdout))
            FileHandle.standardError.write(Data(result.stderr))
            if result.status != .ok && result.status != .exited {
                let why = result.message.map { ": \($0)" } ?? ""
                FileHandle.standardError.write(Data("wasm-sandbox: \(result.status.rawValue)\(why)\n".utf8))
            }
        }
        throw ExitCode(ExitStatus.code(for: result))
    }

    /// Runs the program and returns what happened, without printing.
    func outcome() async throws -> ExecutionResult {
        do {
            return await (try Sandbox(configuration: sandboxConfiguration())).execute(try makeRequest())
        } catch let error as SandboxError {
            // A program the sandbox cannot take (bad UTF-8, say) is reported like any other run.
            return ExecutionResult(status: .invalidInput, message: error.message)
        }
    }

    /// A sandbox sized for one run in a process that then exits: one execution slot, and
    /// memory mapped by the run itself rather than a pool reserved for many.
    func sandboxConfiguration() -> SandboxConfiguration {
        var configuration = SandboxConfiguration()
        configuration.maxConcurrentExecutions = 1
        configuration.instanceAllocation = .onDemand
        configuration.backend = backend
        configuration.onCompile = { bytes in
            // Large runtimes (CPython) take seconds to compile: say so, once.
            guard bytes >= 1 << 20 else { return }
            let megabytes = (Double(bytes) / 1e6).formatted(.number.precision(.fractionLength(1)))
            FileHandle.standardError.write(
                Data("wasm-sandbox: compiling a \(megabytes) MB module; later runs load it from the cache\n".utf8))
        }
        if let memoryMb { configuration.maxMemoryBytes = max(configuration.maxMemoryBytes, memoryMb << 20) }
        if noCache {
            configuration.diskCacheDirectory = nil
        } else if let cacheDirectory {
            configuration.diskCacheDirectory = URL(fileURLWithPath: cacheDirectory)
        }
        return configuration
    }

    func makeRequest() throws -> ExecutionRequest {
        let bytes: [UInt8]
        let name: String
        if let code {
            bytes = Array(code.utf8)
            name = "code"
        } else {
            let url = URL(fileURLWithPath: file!)
            do { bytes = [UInt8](try Data(contentsOf: url)) } catch {
                throw ValidationError("cannot read '\(file!)': \(error.localizedDescription)")
            }
            name = url.lastPathComponent
        }
        let language = try lang?.language ?? Self.language(of: name, inline: code != nil)
        var request = ExecutionRequest(try language.input(bytes))
        request.programName = name
        // `main` hands ArgumentParser only what precedes `--`; the guest's arguments come from here.
        request.arguments =
            WasmSandboxCommand.splitGuestArguments(Array(CommandLine.arguments.dropFirst())).guest
            ?? arguments
        var limits = ExecutionLimits()
        if let timeoutMs { limits.timeout = .milliseconds(timeoutMs) }
        if let memoryMb { limits.memoryBytes = memoryMb << 20 }
        limits.fuel = fuel
        if let maxOutputKb {
            limits.stdoutBytes = maxOutputKb << 10
            limits.stderrBytes = maxOutputKb << 10
        }
        request.limits = limits
        if let stdin {
            do { request.stdin = [UInt8](try Data(contentsOf: URL(fileURLWithPath: stdin))) } catch {
                throw ValidationError("cannot read stdin file '\(stdin)': \(error.localizedDescription)")
            }
        }
        for pair in environment {
            guard let equals = pair.firstIndex(of: "="), equals != pair.startIndex else {
                throw ValidationError("--env '\(pair)' must look like NAME=VALUE")
            }
            request.environment[String(pair[..<equals])] = String(pair[pair.index(after: equals)...])
        }
        request.mounts = try directories.map(Self.parseMount)
        return request
    }

    /// The language a file name implies; inline code without --lang is JavaScript.
    static func language(of name: String, inline: Bool) throws -> Language {
        if inline { return .javascript }
        switch URL(fileURLWithPath: name).pathExtension.lowercased() {
        case "wasm": return .wasm
        case "wat", "wast": return .wat
        case "js", "mjs", "cjs": return .javascript
        case "py": return .python
        default: throw ValidationError("'\(name)': unknown file type; expected .wasm, .wat, .js or .py, or give --lang")
        }
    }

    /// Parses HOST[::GUEST][:ro|:rw]; the guest path defaults to the host path. Read-only
    /// unless `:rw` is given, as a library ``Mount`` is: granting writes takes a word.
    static func parseMount(_ spec: String) throws -> Mount {
        var rest = spec
        var writable = false
        if rest.hasSuffix(":rw") || rest.hasSuffix(":ro") {
            writable = rest.hasSuffix(":rw")
            rest.removeLast(3)
        }
        let parts = rest.components(separatedBy: "::")
        guard (1...2).contains(parts.count), !parts[0].isEmpty, parts.count == 1 || !parts[1].isEmpty else {
            throw ValidationError("--dir '\(spec)' must look like HOST[::GUEST][:rw]")
        }
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: parts[0], isDirectory: &isDirectory), isDirectory.boolValue else {
            throw ValidationError("--dir '\(spec)': '\(parts[0])' is not a directory")
        }
        return Mount(hostPath: parts[0], guestPath: parts.count == 2 ? parts[1] : parts[0], writable: writable)
    }
}

/// `--lang`: a language's name or its short name (`js`, `py`).
struct LanguageArgument: ExpressibleByArgument {
    let language: Language

    init?(argument: String) {
        guard let language = Language(name: argument) else { return nil }
        self.language = language
    }

    static var allValueStrings: [String] { Language.allCases.map(\.rawValue) }
}
