import ArgumentParser
import Foundation
import MCP
import WasmSandbox
import WasmSandboxCLICommands
import Wasmtime

/// What one process per run costs: `wasm-sandbox run` against `wasmtime run` of the same
/// precompiled module, timed alternately in one run so that the machine's load falls on both.
struct ProcessBenchmark: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "process",
        abstract: "Time one-shot `wasm-sandbox run` processes and the server's start-up, next to the wasmtime CLI.",
        discussion: """
            Build both with -c release. Each figure is the median of processes timed alternately \
            with the wasmtime CLI running the same precompiled module; the disk cache is warm for both.
            """
    )

    @Option(help: "Processes of each kind to time.")
    var iterations = 40

    @Option(help: "The wasmtime CLI (default: .deps/wasmtime-cli/wasmtime, from scripts/setup.sh).")
    var wasmtime = WasmtimeCLI.defaultPath

    @Option(help: "The wasm-sandbox executable (default: the one beside this benchmark).")
    var cli = siblingExecutable("wasm-sandbox")

    @Flag(help: "Also time a Python hello, next to the machine's own python3.")
    var python = false

    func validate() throws {
        try checkBounds(iterations, "--iterations", 1...10_000)
    }

    func run() async throws {
        guard let wasmtimeCLI = try WasmtimeCLI(path: wasmtime) else { throw ExitCode(1) }
        let cache = scratchFile("cache")
        let ours = [cli, "run", "--cache-dir", cache]
        print("wasm-sandbox process benchmark: median of \(iterations) processes each, timed alternately")

        let helloWAT = scratchFile("hello.wat")
        try Sandbox.canaryWAT.write(toFile: helloWAT, atomically: true, encoding: .utf8)
        try compare(
            "WAT hello", ours: ours + [helloWAT],
            wasmtime: try wasmtimeCLI.precompile(try wat2wasm(Sandbox.canaryWAT)).command(), target: 1.2)

        let configuration = SandboxConfiguration()
        if let engine = configuration.javascriptEngine.flatMap({ try? [UInt8](Data(contentsOf: $0)) }) {
            let source = #"console.log("hi")"#
            let helloJS = scratchFile("hello.js")
            try source.write(toFile: helloJS, atomically: true, encoding: .utf8)
            try compare(
                "JavaScript hello", ours: ours + [helloJS],
                wasmtime: try wasmtimeCLI.precompile(engine).command(), stdin: Array(source.utf8), target: 1.2)
        } else {
            print("JavaScript engine not found: run scripts/setup.sh")
        }
        if python { try comparePython(ours: ours + ["--lang", "python", "--code", "print('hi')"]) }
        try await serverStartUp(cache: cache)
    }

    /// A Python hello as a process, next to the machine's own python3. The wasmtime CLI is no
    /// baseline here: the engine is a reactor it cannot run as a command, and compiling it for
    /// the CLI would take minutes.
    private func comparePython(ours: [String]) throws {
        let native = NativePython()
        _ = try timeProcess(ours)
        var oursSamples: [UInt64] = []
        for _ in 0..<iterations { oursSamples.append(try timeProcess(ours)) }
        let a = LatencyStats(nanoseconds: oursSamples)
        let verdict = a.median <= 100_000 ? "met" : "MISSED"
        var line =
            "Python hello       wasm-sandbox run \(format(a.median / 1000, digits: 2)) ms (target ≤ 100 ms: \(verdict))"
        if let b = try native.time(["-c", "print('hi')"], count: iterations) {
            line +=
                ", native python3 \(format(b.median / 1000, digits: 2)) ms, ratio \(format(a.median / b.median, digits: 2))x"
        }
        print(line)
    }

    /// Times both commands alternately after one untimed run of each (which fills the caches).
    private func compare(
        _ name: String, ours: [String], wasmtime: [String], stdin: [UInt8] = [], target: Double?
    ) throws {
        _ = try timeProcess(ours)
        _ = try timeProcess(wasmtime, stdin: stdin)
        var oursSamples: [UInt64] = []
        var theirs: [UInt64] = []
        for _ in 0..<iterations {
            oursSamples.append(try timeProcess(ours))
            theirs.append(try timeProcess(wasmtime, stdin: stdin))
        }
        let a = LatencyStats(nanoseconds: oursSamples)
        let b = LatencyStats(nanoseconds: theirs)
        let ratio = a.median / b.median
        let verdict = target.map {
            ratio <= $0 ? " (target ≤ \(format($0))x: met)" : " (target ≤ \(format($0))x: MISSED)"
        }
        print(
            "\(name.padding(toLength: 18, withPad: " ", startingAt: 0)) wasm-sandbox run \(format(a.median / 1000, digits: 2)) ms, wasmtime run \(format(b.median / 1000, digits: 2)) ms, ratio \(format(ratio, digits: 2))x\(verdict ?? "")"
        )
    }

    /// From spawning `wasm-sandbox serve` (stdio) to the answer to `initialize`, and to the
    /// answer of a first `execute_code`, through the MCP SDK's own client.
    private func serverStartUp(cache: String) async throws {
        var toInitialize: [UInt64] = []
        var toFirstRun: [UInt64] = []
        for _ in 0..<max(iterations / 4, 5) {
            let start = DispatchTime.now().uptimeNanoseconds
            let server = try StdioServerProcess(executable: cli, environment: ["XDG_CACHE_HOME": cache])
            let client = Client(name: "bench", version: "1")
            _ = try await client.connect(transport: server.transport)
            toInitialize.append(DispatchTime.now().uptimeNanoseconds - start)
            let context: RequestContext<CallTool.Result> = try await client.callTool(
                name: "execute_code", arguments: ["language": "wat", "code": .string(Sandbox.canaryWAT)])
            let result = try await context.value
            guard result.isError != true else { throw BenchmarkError("the server's first run failed: \(result)") }
            toFirstRun.append(DispatchTime.now().uptimeNanoseconds - start)
            await client.disconnect()
            server.stop()
        }
        let initialize = LatencyStats(nanoseconds: toInitialize)
        let firstRun = LatencyStats(nanoseconds: toFirstRun)
        let verdict = initialize.median <= 50_000 ? "met" : "MISSED"
        print(
            "server start-up    to initialize answered \(format(initialize.median / 1000, digits: 2)) ms (target ≤ 50 ms: \(verdict)), to first WAT run answered \(format(firstRun.median / 1000, digits: 2)) ms"
        )
    }
}

/// An executable installed beside this one.
func siblingExecutable(_ name: String) -> String {
    let own = (try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe")) ?? CommandLine.arguments[0]
    return URL(fileURLWithPath: own).deletingLastPathComponent().appendingPathComponent(name).path
}
