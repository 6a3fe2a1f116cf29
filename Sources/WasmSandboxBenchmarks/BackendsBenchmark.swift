import ArgumentParser
import Foundation
import WasmSandbox
import WasmSandboxCLICommands
import WasmSandboxMCP
import WasmSandboxWasmKit
import Wasmtime

/// `wasm-sandbox-bench backends`: Wasmtime and WasmKit side by side on the same requests,
/// WasmKit's figures as multiples of Wasmtime's, and the wasmtime CLI's process per run as
/// the baseline of both.
struct BackendsBenchmark: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "backends",
        abstract: "Wasmtime and WasmKit side by side: a trivial run, JavaScript hello and a CPU-bound loop.",
        discussion: """
            Build with -c release: a debug build of the WasmKit interpreter is some fifty times \
            slower. Ratios hold across machines; absolute times do not.
            """
    )

    @Option(help: "Runs of the trivial module per backend.")
    var iterations = 2000

    @Option(name: .customLong("process-iterations"), help: "wasmtime CLI processes to time.")
    var processIterations = 100

    @Option(help: "The wasmtime CLI (default: .deps/wasmtime-cli/wasmtime, from scripts/setup.sh).")
    var wasmtime = WasmtimeCLI.defaultPath

    @Option(name: .customLong("loop-iterations"), help: "Iterations of the CPU-bound loop.")
    var loopIterations = 100_000_000

    func validate() throws {
        try checkBounds(iterations, "--iterations", 1...LimitBounds.iterations.upperBound)
        try checkBounds(processIterations, "--process-iterations", 1...LimitBounds.iterations.upperBound)
        try checkBounds(loopIterations, "--loop-iterations", 1...Int(Int32.max))
    }

    /// A figure measured on both backends.
    struct Row {
        let name: String
        var medians: [SandboxBackendKind: Double] = [:]
    }

    func run() async throws {
        let hello = ExecutionRequest(.wasm(try wat2wasm(Sandbox.canaryWAT)))
        var javascript = ExecutionRequest(.javascript(#"console.log("hi")"#))
        javascript.limits = ExecutionLimits(timeout: .seconds(60))
        var loop = ExecutionRequest(.wat(Self.loop(iterations: loopIterations)))
        loop.limits = ExecutionLimits(timeout: .seconds(600))
        var rows = [
            Row(name: "trivial hello (µs)"), Row(name: "JavaScript console.log (µs)"),
            Row(name: "loop of \(loopIterations) (ms)"),
        ]
        for backend in SandboxBackendKind.allCases {
            var configuration = SandboxConfiguration()
            configuration.diskCacheDirectory = nil
            configuration.backend = backend
            let sandbox = try Sandbox(configuration: configuration)
            for request in [hello, javascript, loop] {
                let result = await sandbox.execute(request)  // compile, load, calibrate once
                guard result.status == .ok else {
                    throw ValidationError("\(backend) warm-up failed: \(result.status) \(result.message ?? "")")
                }
            }
            rows[0].medians[backend] = time(sandbox, hello, count: iterations).median
            rows[1].medians[backend] = time(sandbox, javascript, count: max(iterations / 100, 10)).median
            rows[2].medians[backend] = time(sandbox, loop, count: 3).median / 1000
        }
        print("wasm-sandbox bench backends: \(ProcessInfo.processInfo.activeProcessorCount) cores")
        // What a one-shot process pays before its first WasmKit run: engines, the fuel
        // calibration and the execution threads.
        let starts = LatencyStats(
            nanoseconds: try (0..<20).map { _ in
                let start = DispatchTime.now().uptimeNanoseconds
                _ = try WasmKitSandbox()
                return DispatchTime.now().uptimeNanoseconds - start
            })
        print("WasmKitSandbox() start, fuel calibration included: \(starts.summary)")
        print("figure                             wasmtime      wasmkit   wasmkit/wasmtime")
        for row in rows {
            let wasmtime = row.medians[.wasmtime] ?? .nan
            let wasmkit = row.medians[.wasmkit] ?? .nan
            print(
                "\(row.name.padding(toLength: 32, withPad: " ", startingAt: 0)) \(pad(format(wasmtime))) \(pad(format(wasmkit)))   \(format(wasmkit / wasmtime))x"
            )
        }
        if let cli = try WasmtimeCLI(path: wasmtime) {
            let precompiled = try cli.precompile(try wat2wasm(Sandbox.canaryWAT))
            let process = LatencyStats(
                nanoseconds: try (0..<processIterations).map { _ in try timeProcess(precompiled.command([])) })
            print("trivial hello, wasmtime CLI process per run: \(process.summary)")
            for backend in SandboxBackendKind.allCases {
                print("  process / \(backend.rawValue) median: \(format(process.median / rows[0].medians[backend]!))x")
            }
        }
    }

    private func pad(_ text: String) -> String { String(repeating: " ", count: max(0, 12 - text.count)) + text }

    /// Medians of `count` blocking runs on a thread with room for the interpreter's frames.
    private func time(_ sandbox: Sandbox, _ request: ExecutionRequest, count: Int) -> LatencyStats {
        LatencyStats(
            nanoseconds: onBigStackThread {
                (0..<count).map { _ in
                    let start = DispatchTime.now().uptimeNanoseconds
                    _ = sandbox.executeBlocking(request)
                    return DispatchTime.now().uptimeNanoseconds - start
                }
            })
    }

    /// A counted loop of `iterations`, the classic CPU-bound micro-benchmark.
    static func loop(iterations: Int) -> String {
        """
        (module (memory (export "memory") 1)
          (func (export "_start") (local $i i32) (local $sum i32)
            (loop $l
              (local.set $sum (i32.add (local.get $sum) (i32.xor (local.get $i) (i32.const 0x5bd1e995))))
              (local.set $i (i32.add (local.get $i) (i32.const 1)))
              (br_if $l (i32.lt_u (local.get $i) (i32.const \(iterations)))))
            (i32.store (i32.const 0) (local.get $sum))))
        """
    }
}
