import ArgumentParser
import Foundation
import WasmSandbox
import WasmSandboxCLICommands
import WasmSandboxMCP
import Wasmtime

#if canImport(Glibc)
    import Glibc
#endif

struct LibraryBenchmark: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "library",
        abstract: "Measure the library's execution latency and throughput, next to the wasmtime CLI run as a process.",
        discussion: """
            Build with -c release for meaningful figures. Absolute times vary with the machine; \
            the ratios against the wasmtime CLI, measured in the same run, are what to compare.
            """
    )

    @Option(help: "Sequential library executions to time.")
    var iterations = 5000

    @Option(name: .customLong("process-iterations"), help: "wasmtime CLI processes to time.")
    var processIterations = 200

    @Option(help: "The wasmtime CLI (default: .deps/wasmtime-cli/wasmtime, from scripts/setup.sh).")
    var wasmtime = WasmtimeCLI.defaultPath

    @Option(name: .customLong("loop-iterations"), help: "Iterations of the CPU-bound loop.")
    var loopIterations = 300_000_000

    @Option(help: "Which figures to measure: core, javascript, python, sessions or all.")
    var suite = Suite.all

    @Option(help: "The engine: wasmtime (default) or wasmkit, which has no Python and no sessions.")
    var backend = SandboxBackendKind.wasmtime

    enum Suite: String, ExpressibleByArgument, CaseIterable {
        case core, javascript, python, sessions, all
    }

    func validate() throws {
        try checkBounds(iterations, "--iterations", 1...LimitBounds.iterations.upperBound)
        try checkBounds(processIterations, "--process-iterations", 1...LimitBounds.iterations.upperBound)
        // The loop counter is an i32 in the benchmark's module.
        try checkBounds(loopIterations, "--loop-iterations", 1...Int(Int32.max))
    }

    func run() async throws {
        var configuration = SandboxConfiguration()
        configuration.diskCacheDirectory = nil
        configuration.backend = backend
        let sandbox = try Sandbox(configuration: configuration)
        let cores = ProcessInfo.processInfo.activeProcessorCount
        print(
            "wasm-sandbox bench: \(cores) cores, \(configuration.maxConcurrentExecutions) execution threads, \(backend.rawValue)"
        )
        if suite == .core || suite == .all { try await benchCore(sandbox, cores: cores) }
        if suite == .javascript || suite == .all {
            try await benchJavaScript(sandbox, configuration: configuration, cores: cores)
        }
        // WasmKit runs neither Python nor sessions (see the README's Backends).
        guard backend == .wasmtime else { return }
        if suite == .python || suite == .all { try await benchPython(sandbox, cores: cores) }
        if suite == .sessions || suite == .all { try await benchSessions(sandbox) }
    }

    private func benchCore(_ sandbox: Sandbox, cores: Int) async throws {
        let helloWasm = try wat2wasm(Sandbox.canaryWAT)
        let hello = ExecutionRequest(.wasm(helloWasm))
        _ = await sandbox.execute(hello)  // compile once

        let library = try await timeAsync(sandbox, hello, count: iterations)
        print("trivial hello, library (async execute):  \(library.summary)")
        print("trivial hello, library (blocking call):   \(timeBlocking(sandbox, hello).summary)")
        let empty = ExecutionRequest(
            .wasm(try wat2wasm(#"(module (memory (export "memory") 1) (func (export "_start")))"#)))
        print("empty _start, library (blocking call):    \(timeBlocking(sandbox, empty).summary)")
        if let process = try processBaseline(module: helloWasm, count: processIterations) {
            print("trivial hello, wasmtime run per process:  \(process.summary)")
            print("ratio, process / library median:          \(format(process.median / library.median))x")
        }

        var batches: [UInt64] = []
        for _ in 0..<20 {
            let start = DispatchTime.now().uptimeNanoseconds
            let ok = await withTaskGroup(of: Bool.self) { group in
                for _ in 0..<100 { group.addTask { await sandbox.execute(hello).status == .ok } }
                return await group.allSatisfy { $0 }
            }
            batches.append(DispatchTime.now().uptimeNanoseconds - start)
            guard ok else { throw ValidationError("a concurrent execution failed") }
        }
        let batch = LatencyStats(nanoseconds: batches)
        print(
            "100 concurrent executions:                median \(format(batch.median / 1000, digits: 2)) ms, p99 \(format(batch.p99 / 1000, digits: 2)) ms (n=20)"
        )
        let throughput = await measureThroughput(sandbox, hello, clients: 4 * cores, seconds: 2)
        print("throughput, \(4 * cores) clients on \(cores) cores:       \(format(throughput, digits: 0)) executions/s")
        try measureCheckCost()
    }

    private func benchJavaScript(_ sandbox: Sandbox, configuration: SandboxConfiguration, cores: Int) async throws {
        guard let engineFile = configuration.javascriptEngine,
            let engine = try? [UInt8](Data(contentsOf: engineFile))
        else {
            print("JavaScript engine not found: run scripts/setup.sh")
            return
        }
        let helloSource = #"console.log("hi")"#
        let hello = ExecutionRequest(.javascript(helloSource))
        let start = DispatchTime.now().uptimeNanoseconds
        guard await sandbox.execute(hello).status == .ok else { throw ValidationError("JavaScript hello failed") }
        print(
            "JavaScript engine compile (first run):    \(format(Double(DispatchTime.now().uptimeNanoseconds - start) / 1e6)) ms"
        )

        let library = try await timeAsync(sandbox, hello, count: max(iterations / 5, 10))
        print("JS console.log(\"hi\"), library:          \(library.summary)")
        // The engine takes its source in memory, which the CLI cannot pass: a process that only
        // starts the engine and gives it an empty turn is the floor of any process per run.
        if let cli = try WasmtimeCLI(path: wasmtime) {
            let precompiled = try cli.precompile(engine)
            let process = LatencyStats(
                nanoseconds: try (0..<processIterations).map { _ in
                    try timeProcess(precompiled.command(invoking: "turn", ["0", "0"]))
                })
            print("JS engine + empty turn, wasmtime per process: \(process.summary)")
            print("ratio, process / library median:          \(format(process.median / library.median))x")
        }

        let primesSource = try String(contentsOfFile: "examples/primes.js", encoding: .utf8)
        var primes = ExecutionRequest(.javascript(primesSource))
        primes.limits = ExecutionLimits(timeout: .seconds(60))
        let cpuLibrary = try await timeAsync(sandbox, primes, count: 5)
        print("JS primes below 200000, library:          median \(format(cpuLibrary.median / 1000)) ms (n=5)")
        let throughput = await measureThroughput(sandbox, hello, clients: 4 * cores, seconds: 2)
        print("JS throughput, \(4 * cores) clients on \(cores) cores:    \(format(throughput, digits: 0)) executions/s")
    }

    /// The pandas snippet the Python figures use: an import and a 1,000-row groupby.
    static let pandasSnippet = """
        import numpy as np, pandas as pd
        df = pd.DataFrame({'k': np.arange(1000) % 7, 'v': np.arange(1000.0)})
        print(df.groupby('k')['v'].sum().iloc[0])
        """

    private func benchPython(_ sandbox: Sandbox, cores: Int) async throws {
        let hello = ExecutionRequest(.python("print('hi')"))
        let start = DispatchTime.now().uptimeNanoseconds
        let first = await sandbox.execute(hello)
        guard first.status == .ok else { throw ValidationError("Python hello failed: \(first.message ?? "")") }
        print(
            "Python first run (engine loaded, \(first.cacheHit ? "precompiled" : "COMPILED: run wasm-sandbox prepare")): \(format(Double(DispatchTime.now().uptimeNanoseconds - start) / 1e6)) ms"
        )
        let count = max(iterations / 20, 20)
        let library = try await timeAsync(sandbox, hello, count: count)
        print(
            "Python print('hi'), library, fresh instance:   \(library.summary) (target ≤ 5 ms: \(library.median <= 5000 ? "met" : "MISSED"))"
        )
        var pandasRequest = ExecutionRequest(.python(Self.pandasSnippet))
        pandasRequest.limits = ExecutionLimits(timeout: .seconds(60))
        let pandas = try await timeAsync(sandbox, pandasRequest, count: max(count / 4, 10))
        print(
            "Python pandas groupby of 1,000 rows, library:  \(pandas.summary) (target ≤ 20 ms: \(pandas.median <= 20000 ? "met" : "MISSED"))"
        )
        let native = NativePython()
        if let hello = try native.time(["-c", "print('hi')"], count: min(processIterations, 50)) {
            print(
                "Python print('hi'), native python3 process:   \(hello.summary); ratio native / library \(format(hello.median / library.median))x"
            )
        }
        if let stack = try native.time(["-c", Self.pandasSnippet], count: min(processIterations, 20)) {
            print(
                "Python pandas groupby, native python3 process: \(stack.summary); ratio native / library \(format(stack.median / pandas.median))x"
            )
        }
        let throughput = await measureThroughput(sandbox, hello, clients: 4 * cores, seconds: 3)
        print(
            "Python throughput, \(4 * cores) clients on \(cores) cores:  \(format(throughput, digits: 0)) print('hi') runs/s"
        )
    }

    /// A call on an open session against a stateless run of the same code, and the cost of
    /// opening a session, for each language.
    private func benchSessions(_ sandbox: Sandbox) async throws {
        let count = max(iterations / 5, 20)
        for (language, target, stateless) in [
            (Language.javascript, 300.0, ExecutionRequest(.javascript("var x = 1; x += 1"))),
            (Language.python, 1000.0, ExecutionRequest(.python("x = 1\nx += 1"))),
        ] {
            let name = language == .python ? "Python" : "JS"
            let session = try await sandbox.openSession(language: language)
            _ = await session.run("var x = 0")
            if language == .python { _ = await session.run("x = 0") }
            let calls = try await Task.detached {
                var samples: [UInt64] = []
                for _ in 0..<count {
                    let start = DispatchTime.now().uptimeNanoseconds
                    let result = await session.run("x += 1")
                    samples.append(DispatchTime.now().uptimeNanoseconds - start)
                    guard result.status == .ok else { throw ValidationError("session call failed: \(result.status)") }
                }
                return samples
            }.value
            let call = LatencyStats(nanoseconds: calls)
            let check = await session.run("x")
            guard check.value == "\(count)" else {
                throw ValidationError("session lost its state: \(check.value ?? "nil")")
            }
            await session.close()
            print(
                "\(name) session call `x += 1`:             \(call.summary) (target ≤ \(format(target / 1000, digits: 1)) ms: \(call.median <= target ? "met" : "MISSED"))"
            )
            let opens = try await Task.detached {
                var samples: [UInt64] = []
                for _ in 0..<max(count / 10, 10) {
                    let start = DispatchTime.now().uptimeNanoseconds
                    let opened = try await sandbox.openSession(language: language)
                    samples.append(DispatchTime.now().uptimeNanoseconds - start)
                    await opened.close()
                }
                return samples
            }.value
            let open = LatencyStats(nanoseconds: opens)
            let run = try await timeAsync(sandbox, stateless, count: max(count / 10, 10))
            print("\(name) opening a session:                  \(open.summary)")
            print(
                "\(name) stateless run of `x = 1; x += 1`:    \(run.summary); open / stateless \(format(open.median / run.median, digits: 2))x"
            )
        }
    }

    /// Latency of `execute` from a task on the global executor, as a server's handler calls it.
    private func timeAsync(_ sandbox: Sandbox, _ request: ExecutionRequest, count: Int) async throws -> LatencyStats {
        LatencyStats(
            nanoseconds: try await Task.detached {
                var samples: [UInt64] = []
                for _ in 0..<count {
                    let start = DispatchTime.now().uptimeNanoseconds
                    let result = await sandbox.execute(request)
                    samples.append(DispatchTime.now().uptimeNanoseconds - start)
                    guard result.status == .ok else {
                        throw ValidationError("benchmark run failed: \(result.status) \(result.message ?? "")")
                    }
                }
                return samples
            }.value)
    }

    /// Latency of `executeBlocking` on a thread of our own, without any thread handoff.
    private func timeBlocking(_ sandbox: Sandbox, _ request: ExecutionRequest) -> LatencyStats {
        LatencyStats(
            nanoseconds: onBigStackThread { [iterations] in
                (0..<iterations).map { _ in
                    let start = DispatchTime.now().uptimeNanoseconds
                    _ = sandbox.executeBlocking(request)
                    return DispatchTime.now().uptimeNanoseconds - start
                }
            })
    }

    /// The module compiled once by the wasmtime CLI and run as one process per execution.
    private func processBaseline(module: [UInt8], arguments: [String] = [], stdin: [UInt8] = [], count: Int) throws
        -> LatencyStats?
    {
        guard let cli = try WasmtimeCLI(path: wasmtime) else { return nil }
        let precompiled = try cli.precompile(module)
        return try LatencyStats(
            nanoseconds: (0..<count).map { _ in try timeProcess(precompiled.command(arguments), stdin: stdin) })
    }

    private func measureThroughput(_ sandbox: Sandbox, _ request: ExecutionRequest, clients: Int, seconds: Double) async
        -> Double
    {
        let end = DispatchTime.now().uptimeNanoseconds + UInt64(seconds * 1e9)
        let start = DispatchTime.now().uptimeNanoseconds
        let count = await withTaskGroup(of: Int.self) { group in
            for _ in 0..<clients {
                group.addTask {
                    var done = 0
                    while DispatchTime.now().uptimeNanoseconds < end {
                        if await sandbox.execute(request).status == .ok { done += 1 }
                    }
                    return done
                }
            }
            return await group.reduce(0, +)
        }
        return Double(count) / (Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9)
    }

    /// Times a CPU-bound loop on engines with and without fuel metering and epoch checks.
    private func measureCheckCost() throws {
        let wasm = try wat2wasm(loopWAT(iterations: loopIterations))
        func time(fuel: Bool, epoch: Bool) throws -> Double {
            var configuration = EngineConfiguration()
            configuration.consumeFuel = fuel
            configuration.epochInterruption = epoch
            let engine = try Engine(configuration)
            let pre = try LinkerBuilder<Void>(engine: engine).build().instantiatePre(
                try Module(engine: engine, wasm: wasm))
            let runs = try onBigStackThread { () throws(WasmtimeError) -> [UInt64] in
                var runs: [UInt64] = []
                for _ in 0..<3 {
                    let store = Store(engine: engine)
                    if fuel { try store.setFuel(UInt64(Int64.max)) }
                    if epoch { store.setEpochDeadline(ticks: .max >> 1) }
                    let start = DispatchTime.now().uptimeNanoseconds
                    try pre.instantiate(in: store).call("_start")
                    runs.append(DispatchTime.now().uptimeNanoseconds - start)
                }
                return runs
            }
            return Double(runs.min()!) / 1e6
        }
        let plain = try time(fuel: false, epoch: false)
        let epoch = try time(fuel: false, epoch: true)
        let both = try time(fuel: true, epoch: true)
        print("CPU-bound loop (\(loopIterations) iterations), best of 3:")
        print(
            "  no checks \(format(plain)) ms; epoch \(format(epoch)) ms (\(format(epoch / plain, digits: 2))x); fuel + epoch (runs with a fuel budget) \(format(both)) ms (\(format(both / plain, digits: 2))x)"
        )
    }
}

/// Runs `body` on a thread with room for Wasm's stack and waits for it.
func onBigStackThread<R, E: Error>(_ body: @escaping @Sendable () throws(E) -> R) throws(E) -> R {
    let outcome = ThreadOutcome<R, E>()
    let thread = Thread {
        outcome.result = Result(catching: body)
        outcome.done.signal()
    }
    thread.stackSize = 16 << 20
    thread.start()
    outcome.done.wait()
    return try outcome.result!.get()
}

private func loopWAT(iterations: Int) -> String {
    """
    (module
      (func (export "_start") (local $i i32)
        (loop $again
          (local.set $i (i32.add (local.get $i) (i32.const 1)))
          (br_if $again (i32.lt_u (local.get $i) (i32.const \(iterations)))))))
    """
}

private final class ThreadOutcome<R, E: Error>: @unchecked Sendable {
    var result: Result<R, E>?
    let done = DispatchSemaphore(value: 0)
}
