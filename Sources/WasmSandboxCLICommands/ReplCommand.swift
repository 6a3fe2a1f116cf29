import ArgumentParser
import Foundation
import WasmSandbox
import WasmSandboxMCP

#if canImport(Glibc)
    import Glibc
#endif

struct ReplCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "repl",
        abstract: "An interactive session: state persists from one cell to the next, final expressions are shown.",
        discussion: """
            On a terminal: a prompt, more lines for a block (end it with a blank line), Ctrl-D to \
            leave. With piped input, each blank-line-separated block is one cell. A cell that times \
            out or hits a limit ends the session; the command then exits with that status's code \
            (see run).
            """
    )

    @Option(help: "python (py) or javascript (js).")
    var lang = LanguageArgument(argument: "python")!

    @Option(name: .customLong("timeout-ms"), help: "Wall-clock limit of each cell in milliseconds (default 30000).")
    var timeoutMs: Int?

    @Option(name: .customLong("memory-mb"), help: "Linear memory limit of the session in MiB (default 256).")
    var memoryMb: Int?

    @Option(help: "The engine: wasmtime (default); wasmkit has no sessions, so it is refused here.")
    var backend = SandboxBackendKind.wasmtime

    func validate() throws {
        guard backend == .wasmtime else {
            throw ValidationError(
                "--backend wasmkit cannot run a REPL: sessions keep an instance between calls, which only the wasmtime backend does"
            )
        }
        guard lang.language == .python || lang.language == .javascript else {
            throw ValidationError("--lang must be python or javascript: sessions run those")
        }
        try checkBounds(timeoutMs, "--timeout-ms", LimitBounds.timeoutMs)
        try checkBounds(memoryMb, "--memory-mb", LimitBounds.memoryMb)
    }

    func run() async throws {
        var configuration = SandboxConfiguration()
        configuration.maxConcurrentExecutions = 1
        configuration.sessions.maxSessions = 1
        var limits = ExecutionLimits(timeout: .milliseconds(timeoutMs ?? 30_000))
        if let memoryMb {
            limits.memoryBytes = memoryMb << 20
            configuration.maxMemoryBytes = max(configuration.maxMemoryBytes, limits.memoryBytes)
        }
        let session: SandboxSession
        do {
            session = try await Sandbox(configuration: configuration).openSession(
                language: lang.language, limits: limits)
        } catch let error as SandboxError {
            FileHandle.standardError.write(Data("wasm-sandbox: cannot start the session: \(error.message)\n".utf8))
            throw ExitCode(error.kind == .internalError ? 70 : 65)
        }
        let interactive = isatty(STDIN_FILENO) == 1
        if interactive {
            let name = lang.language == .python ? "Python 3.15" : "JavaScript (QuickJS)"
            FileHandle.standardError.write(Data("\(name) in a wasm-sandbox session; Ctrl-D to leave\n".utf8))
            try await interact(session)
        } else {
            let input = await Self.readAll()
            for cell in CellInput.cells(in: input) { try await run(cell, in: session) }
        }
        await session.close()
    }

    private func interact(_ session: SandboxSession) async throws {
        let (prompt, more) = lang.language == .python ? (">>> ", "... ") : ("> ", "... ")
        var lines: [String] = []
        while true {
            FileHandle.standardOutput.write(Data((lines.isEmpty ? prompt : more).utf8))
            guard let line = await Self.readLine() else {
                if !lines.isEmpty { try await run(lines.joined(separator: "\n"), in: session) }
                FileHandle.standardOutput.write(Data("\n".utf8))
                return
            }
            lines.append(line)
            if CellInput.isComplete(lines, language: lang.language) {
                let cell = lines.joined(separator: "\n")
                lines = []
                if !cell.allSatisfy(\.isWhitespace) { try await run(cell, in: session) }
            }
        }
    }

    /// Runs one cell and prints what it wrote and its value; a cell that ended the session
    /// ends the command with its status's exit code.
    private func run(_ cell: String, in session: SandboxSession) async throws {
        let result = await session.run(cell)
        FileHandle.standardOutput.write(Data(result.stdout))
        FileHandle.standardError.write(Data(result.stderr))
        if let value = result.value { FileHandle.standardOutput.write(Data((value + "\n").utf8)) }
        if result.status != .ok && result.status != .exited {
            let why = result.message.map { ": \($0)" } ?? ""
            FileHandle.standardError.write(Data("wasm-sandbox: \(result.status.rawValue)\(why)\n".utf8))
        }
        if result.sessionEnded == true || !session.isOpen { throw ExitCode(ExitStatus.code(for: result)) }
    }

    /// One line of stdin without its newline, `nil` at the end; read on a thread of its own,
    /// since it blocks.
    private static func readLine() async -> String? {
        await withCheckedContinuation { continuation in
            Thread.detachNewThread { continuation.resume(returning: Swift.readLine(strippingNewline: true)) }
        }
    }

    private static func readAll() async -> String {
        await withCheckedContinuation { continuation in
            Thread.detachNewThread {
                let data = FileHandle.standardInput.readDataToEndOfFile()
                continuation.resume(returning: String(decoding: data, as: UTF8.self))
            }
        }
    }
}
