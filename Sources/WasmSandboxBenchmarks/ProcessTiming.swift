import Foundation
import WasmSandbox

/// Runs `command` (the executable first) with `stdin`, its output discarded, and returns how
/// long the process took from spawn to exit, in nanoseconds. A failing process is an error:
/// a benchmark of a failure measures nothing.
func timeProcess(_ command: [String], stdin: [UInt8] = []) throws -> UInt64 {
    let start = DispatchTime.now().uptimeNanoseconds
    let status = try runProcess(command, stdin: stdin)
    let elapsed = DispatchTime.now().uptimeNanoseconds - start
    guard status == 0 else {
        throw BenchmarkError("\(command.map { $0.count > 60 ? "…" : $0 }.joined(separator: " ")) exited \(status)")
    }
    return elapsed
}

/// Runs a process to its end and returns its exit status.
func runProcess(_ command: [String], stdin: [UInt8] = []) throws -> Int32 {
    let process = Process()
    process.executableURL = URL(fileURLWithPath: command[0])
    process.arguments = Array(command.dropFirst())
    process.standardOutput = FileHandle.nullDevice
    process.standardError = FileHandle.nullDevice
    let input = Pipe()
    process.standardInput = input
    try process.run()
    input.fileHandleForWriting.write(Data(stdin))
    try input.fileHandleForWriting.close()
    process.waitUntilExit()
    return process.terminationStatus
}

/// The wasmtime CLI, the baseline every process figure is compared with.
struct WasmtimeCLI {
    /// Where scripts/setup.sh puts it.
    static let defaultPath = ".deps/wasmtime-cli/wasmtime"

    let path: String
    /// The same Wasm stack limit as the sandbox, so both run the same code.
    let stackFlag = "max-wasm-stack=\(SandboxConfiguration().maxWasmStackBytes)"

    /// `nil`, with a note printed, when the CLI is missing.
    init?(path: String) throws {
        guard FileManager.default.isExecutableFile(atPath: path) else {
            print("wasmtime CLI not found at \(path): run scripts/setup.sh or pass --wasmtime")
            return nil
        }
        self.path = path
    }

    /// A module compiled ahead of time, as `wasmtime compile` leaves it.
    struct Precompiled {
        let cli: WasmtimeCLI
        let file: String

        /// `wasmtime run --allow-precompiled` of the module with `arguments`.
        func command(_ arguments: [String] = []) -> [String] {
            [cli.path, "run", "-W", cli.stackFlag, "--allow-precompiled", file] + arguments
        }

        /// A reactor's export called with `arguments`; its imports outside WASI trap if called.
        func command(invoking export: String, _ arguments: [String]) -> [String] {
            [
                cli.path, "run", "-W", "\(cli.stackFlag),unknown-imports-trap=y", "--allow-precompiled", "--invoke",
                export, file,
            ] + arguments
        }
    }

    /// Compiles `module` into the benchmark's scratch directory.
    func precompile(_ module: [UInt8]) throws -> Precompiled {
        let name = UUID().uuidString
        let wasm = scratchFile("\(name).wasm")
        let cwasm = scratchFile("\(name).cwasm")
        try Data(module).write(to: URL(fileURLWithPath: wasm))
        guard try runProcess([path, "compile", "-W", stackFlag, wasm, "-o", cwasm]) == 0 else {
            throw BenchmarkError("wasmtime compile failed")
        }
        return Precompiled(cli: self, file: cwasm)
    }
}

/// A path in a directory of this process's own, removed when the process exits.
func scratchFile(_ name: String) -> String {
    scratchDirectory.appendingPathComponent(name).path
}

private let scratchDirectory: URL = {
    let directory = FileManager.default.temporaryDirectory.appendingPathComponent("wasm-sandbox-bench-\(getpid())")
    try? FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
    atexit {
        try? FileManager.default.removeItem(
            at: FileManager.default.temporaryDirectory.appendingPathComponent("wasm-sandbox-bench-\(getpid())"))
    }
    return directory
}()

/// A benchmark that could not measure what it set out to.
struct BenchmarkError: Error, CustomStringConvertible {
    var description: String
    init(_ description: String) { self.description = description }
}

/// The machine's own CPython, run as one process per snippet: the baseline for the sandbox's
/// Python. `$WASM_SANDBOX_BENCH_PYTHON` picks the interpreter; the default is
/// .deps/bench-venv/bin/python (scripts/bench-venv.sh installs numpy and pandas there), else
/// `python3` on the PATH, resolved to the interpreter itself (a version manager's shim would
/// add its own start-up to every sample).
struct NativePython {
    let path: String?

    init() {
        let environment = ProcessInfo.processInfo.environment
        if let named = environment["WASM_SANDBOX_BENCH_PYTHON"], !named.isEmpty {
            path = named
        } else if FileManager.default.isExecutableFile(atPath: ".deps/bench-venv/bin/python") {
            path = ".deps/bench-venv/bin/python"
        } else {
            path = Self.resolve("python3")
        }
    }

    /// The interpreter `python3` on the PATH really runs (`sys.executable`).
    private static func resolve(_ name: String) -> String? {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = [name, "-c", "import sys; print(sys.executable)"]
        let output = Pipe()
        process.standardOutput = output
        process.standardError = FileHandle.nullDevice
        guard (try? process.run()) != nil else { return nil }
        let data = output.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        let path = String(decoding: data, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
        return process.terminationStatus == 0 && !path.isEmpty ? path : nil
    }

    /// `nil`, with a note printed, when the interpreter cannot run the snippet at all.
    func time(_ arguments: [String], count: Int) throws -> LatencyStats? {
        guard let path, (try? runProcess([path] + arguments)) == 0 else {
            print(
                "native python3 (\(path ?? "not found")) cannot run this snippet: run scripts/bench-venv.sh or set WASM_SANDBOX_BENCH_PYTHON"
            )
            return nil
        }
        return LatencyStats(nanoseconds: try (0..<count).map { _ in try timeProcess([path] + arguments) })
    }
}
