import Dispatch
import Synchronization
import Testing
import Wasmtime

@Suite("Host functions: arguments, results and store data")
struct HostCallTests {
    /// What a store's host functions record, reached through ``Caller/data``.
    final class Recorder: Sendable {
        let values = Mutex<[Value]>([])
        func record(_ value: Value) { values.withLock { $0.append(value) } }
    }

    /// Calls `host.mix` with one argument of each type and hands its two results to `host.report`.
    static let mixer = """
        (module
          (import "host" "mix" (func $mix (param i32 i64 f32 f64 i32) (result i64 i32)))
          (import "host" "report" (func $report (param i64 i32)))
          (func (export "_start")
            (call $report (call $mix (i32.const -7) (i64.const 5000000000) (f32.const 1.5) (f64.const 2.25) (i32.const 3)))))
        """

    private static func mixerLinker(engine: Engine) throws -> Linker<Recorder> {
        var builder = LinkerBuilder<Recorder>(engine: engine)
        try builder.defineFunction(
            module: "host", name: "mix", parameters: [.i32, .i64, .f32, .f64, .i32], results: [.i64, .i32]
        ) { caller, args, results in
            for index in 0..<args.count { caller.data.record(try args.value(at: index)) }
            let (a, b, c, d) = (try args.i32(at: 0), try args.i64(at: 1), try args.f32(at: 2), try args.f64(at: 3))
            try results.set(.i64(Int64(a) + b + Int64(c * 2) + Int64(d * 4)), at: 0)
            try results.set(.i32(try args.i32(at: 4) * 10), at: 1)
        }
        try builder.defineFunction(module: "host", name: "report", parameters: [.i64, .i32], results: []) {
            caller, args, _ in
            caller.data.record(.i64(try args.i64(at: 0)))
            caller.data.record(.i32(try args.i32(at: 1)))
        }
        return builder.build()
    }

    @Test func severalParametersAndResultsReachTheirPlaces() throws {
        let engine = try Engine()
        let pre = try Self.mixerLinker(engine: engine).instantiatePre(
            try Module(engine: engine, wasm: try wat2wasm(Self.mixer)))
        let recorder = Recorder()
        try pre.instantiate(in: Store(engine: engine, data: recorder)).call("_start")
        let expected: [Value] = [
            .i32(-7), .i64(5_000_000_000), .f32(1.5), .f64(2.25), .i32(3), .i64(-7 + 5_000_000_000 + 3 + 9), .i32(30),
        ]
        #expect(recorder.values.withLock { $0 } == expected)
    }

    @Test func frozenLinkerServesStoresOnManyThreads() throws {
        let engine = try Engine()
        let linker = Self.mixerLinker
        let pre = try linker(engine).instantiatePre(try Module(engine: engine, wasm: try wat2wasm(Self.mixer)))
        let recorders = (0..<8).map { _ in Recorder() }
        let failures = Mutex(0)
        // Each thread has its own store and data; only the linker's product is shared.
        DispatchQueue.concurrentPerform(iterations: recorders.count) { index in
            do {
                try pre.instantiate(in: Store(engine: engine, data: recorders[index])).call("_start")
            } catch {
                failures.withLock { $0 += 1 }
            }
        }
        #expect(failures.withLock { $0 } == 0)
        for recorder in recorders { #expect(recorder.values.withLock { $0.count } == 7) }
    }

    @Test func shadowingIsDecidedWhileBuilding() throws {
        let engine = try Engine()
        var builder = LinkerBuilder<Recorder>(engine: engine)
        for marker: Int32 in [1, 2] {
            if marker == 2 {
                // Without shadowing a second definition of the same name is refused.
                #expect(throws: WasmtimeError.self) {
                    try builder.defineFunction(module: "host", name: "f", parameters: [], results: []) { _, _, _ in }
                }
                builder.allowShadowing(true)
            }
            try builder.defineFunction(module: "host", name: "f", parameters: [], results: []) { caller, _, _ in
                caller.data.record(.i32(marker))
            }
        }
        let linker = builder.build()
        let wasm = try wat2wasm("(module (import \"host\" \"f\" (func $f)) (func (export \"_start\") (call $f)))")
        let recorder = Recorder()
        try linker.instantiatePre(try Module(engine: engine, wasm: wasm))
            .instantiate(in: Store(engine: engine, data: recorder)).call("_start")
        #expect(recorder.values.withLock { $0 } == [.i32(2)])
    }

    @Test func undeclaredReadsAndWritesTrapTheGuest() throws {
        let engine = try Engine()
        let wasm = try wat2wasm(
            "(module (import \"host\" \"f\" (func $f (param i32) (result i32))) (func (export \"_start\") (drop (call $f (i32.const 1)))))"
        )
        let module = try Module(engine: engine, wasm: wasm)
        func outcome(_ body: @escaping HostFunction<Void>) throws -> String? {
            var builder = LinkerBuilder<Void>(engine: engine)
            try builder.defineFunction(module: "host", name: "f", parameters: [.i32], results: [.i32], body)
            do {
                try builder.build().instantiatePre(module).instantiate(in: Store(engine: engine)).call("_start")
                return nil
            } catch {
                return error.message
            }
        }
        #expect(try outcome { _, args, results in try results.set(.i32(try args.i32(at: 0)), at: 0) } == nil)
        #expect(try outcome { _, args, _ in _ = try args.i32(at: 1) }?.contains("argument 1 of 1") == true)
        #expect(try outcome { _, args, _ in _ = try args.i64(at: 0) }?.contains("argument 0 as i64") == true)
        #expect(try outcome { _, _, results in try results.set(.i64(1), at: 0) }?.contains("result 0 to i64") == true)
        #expect(try outcome { _, _, results in try results.set(.i32(1), at: 1) }?.contains("result 1 of 1") == true)
        // A result left unset is caught after the function returns.
        #expect(try outcome { _, _, _ in }?.contains("set no result 0") == true)
    }
}
