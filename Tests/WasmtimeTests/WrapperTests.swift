import Synchronization
import Testing
import Wasmtime

@Suite("Swift wrapper of Wasmtime")
struct WrapperTests {
    static let answer = """
        (module
          (import "host" "add" (func $add (param i32 i32) (result i32)))
          (memory (export "memory") 2)
          (global $result (export "result") (mut i32) (i32.const 0))
          (func (export "_start")
            (global.set $result (call $add (i32.const 40) (i32.const 2)))
            ;; The wrapper cannot read a global back, so the guest checks the sum it got itself.
            (if (i32.ne (global.get $result) (i32.const 42)) (then unreachable))))
        """

    @Test func invalidEngineConfigurationThrowsInsteadOfAborting() throws {
        var configuration = EngineConfiguration()
        configuration.memoryReservation = 1 << 20
        configuration.pooling = PoolingConfiguration(totalInstances: 1, maxMemorySize: 64 << 20)
        #expect(throws: WasmtimeError.self) { try Engine(configuration) }
        configuration.pooling = nil
        configuration.maxWasmStack = 1024
        #expect(throws: WasmtimeError.self) { try Engine(configuration) }
        configuration.maxWasmStack = 4 << 20
        configuration.asyncStackSize = 1 << 20
        #expect(throws: WasmtimeError.self) { try Engine(configuration) }
        // A large Wasm stack with the async stack left to us works.
        configuration.asyncStackSize = nil
        _ = try Engine(configuration)
    }

    @Test func watErrorsCarryWasmtimeMessage() {
        #expect {
            try wat2wasm("(module (func (i32.nope)))")
        } throws: { error in
            (error as? WasmtimeError)?.message.contains("i32.nope") == true
        }
    }

    @Test func moduleValidationAndExports() throws {
        let engine = try Engine()
        let wasm = try wat2wasm(Self.answer)
        try Module.validate(engine: engine, wasm: wasm)
        #expect(throws: WasmtimeError.self) { try Module.validate(engine: engine, wasm: [0, 1, 2]) }
        let module = try Module(engine: engine, wasm: wasm)
        #expect(module.exports.map(\.name) == ["memory", "result", "_start"])
        #expect(module.exports.map(\.kind) == [.memory, .global, .function])
    }

    @Test func serializeRoundTrip() throws {
        let engine = try Engine()
        let module = try Module(engine: engine, wasm: try wat2wasm(Self.answer))
        let serialized = try module.serialize()
        let copy = try Module(engine: engine, trustedSerialized: serialized)
        #expect(copy.exports.count == 3)
        // Bytes read in place, as from a memory-mapped cache file, load the same.
        let inPlace = try serialized.withUnsafeBytes { bytes throws(WasmtimeError) in
            try Module(engine: engine, trustedSerialized: bytes)
        }
        #expect(inPlace.exports.count == 3)
        var other = EngineConfiguration()
        other.consumeFuel = true
        // Code compiled for another configuration is refused, not run.
        #expect(throws: WasmtimeError.self) {
            try Module(engine: try Engine(other), trustedSerialized: try module.serialize())
        }
    }

    @Test func hostFunctionsReceiveArgumentsAndStoreData() throws {
        final class Marker: Sendable {
            let results = Mutex<[Int32]>([])
        }
        let engine = try Engine()
        var linker = LinkerBuilder<Marker>(engine: engine)
        let marker = Marker()
        try linker.defineFunction(module: "host", name: "add", parameters: [.i32, .i32], results: [.i32]) {
            caller, args, results in
            guard caller.data === marker else { throw WasmtimeError.error(message: "unexpected call") }
            let size = try caller.withMemory { $0.count }
            // 40 + 2 when the memory is the module's two pages.
            let sum = try args.i32(at: 0) + args.i32(at: 1) + Int32(size / 65536) - 2
            caller.data.results.withLock { $0.append(sum) }
            try results.set(.i32(sum), at: 0)
        }
        let pre = try linker.build().instantiatePre(try Module(engine: engine, wasm: try wat2wasm(Self.answer)))
        let store = Store(engine: engine, data: marker)
        let instance = try pre.instantiate(in: store)
        // The guest traps unless the host's answer reached it as 42.
        try instance.call("_start")
        #expect(marker.results.withLock { $0 } == [42])
        #expect(instance.memorySize() == 2 * 65536)
    }

    @Test func hostFunctionErrorsBecomeTraps() throws {
        let engine = try Engine()
        var linker = LinkerBuilder<Void>(engine: engine)
        try linker.defineFunction(module: "host", name: "add", parameters: [.i32, .i32], results: [.i32]) { _, _, _ in
            throw WasmtimeError.error(message: "host refused")
        }
        let instance = try linker.build().instantiatePre(try Module(engine: engine, wasm: try wat2wasm(Self.answer)))
            .instantiate(in: Store(engine: engine))
        #expect {
            try instance.call("_start")
        } throws: { error in
            (error as? WasmtimeError)?.message.contains("host refused") == true
        }
    }

    @Test func fuelAndEpochTraps() throws {
        var configuration = EngineConfiguration()
        configuration.consumeFuel = true
        configuration.epochInterruption = true
        let engine = try Engine(configuration)
        let spin = try Module(
            engine: engine,
            wasm: try wat2wasm(
                "(module (func (export \"_start\") (local i32) (loop (local.set 0 (i32.add (local.get 0) (i32.const 1))) (br 0))))"
            ))
        let pre = try LinkerBuilder<Void>(engine: engine).build().instantiatePre(spin)

        let fuelStore = Store(engine: engine)
        try fuelStore.setFuel(10_000)
        fuelStore.setEpochDeadline(ticks: 1_000_000)
        #expect { try pre.instantiate(in: fuelStore).call("_start") } throws: {
            if case WasmtimeError.trap(.outOfFuel, _) = $0 { true } else { false }
        }
        #expect(try fuelStore.fuel() == 0)

        let epochStore = Store(engine: engine)
        try epochStore.setFuel(.max >> 1)
        epochStore.setEpochDeadline(ticks: 1)
        engine.incrementEpoch()
        #expect { try pre.instantiate(in: epochStore).call("_start") } throws: {
            if case WasmtimeError.trap(.interrupt, _) = $0 { true } else { false }
        }
    }

    @Test func epochCallbackDecidesWhetherToContinue() throws {
        var configuration = EngineConfiguration()
        configuration.epochInterruption = true
        let engine = try Engine(configuration)
        let spin = try Module(engine: engine, wasm: try wat2wasm("(module (func (export \"_start\") (loop (br 0))))"))
        let store = Store(engine: engine)
        store.setEpochDeadline(ticks: 1)
        var calls = 0
        store.onEpochDeadline {
            calls += 1
            // Zero ticks: the deadline is the current epoch, so the callback comes again at once.
            return calls < 5 ? .continue(ticks: 0) : .interrupt(message: "enough")
        }
        engine.incrementEpoch()
        #expect {
            try LinkerBuilder<Void>(engine: engine).build().instantiatePre(spin).instantiate(in: store).call("_start")
        } throws: {
            ($0 as? WasmtimeError)?.message.contains("enough") == true
        }
        #expect(calls == 5)
    }

    @Test func wasiExitStatus() throws {
        let engine = try Engine()
        var builder = LinkerBuilder<Void>(engine: engine)
        try builder.defineWASI()
        let linker = builder.build()
        let wasm = try wat2wasm(
            """
            (module (import "wasi_snapshot_preview1" "proc_exit" (func $exit (param i32)))
              (memory (export "memory") 1)
              (func (export "_start") (call $exit (i32.const 42))))
            """)
        let store = Store(engine: engine)
        try store.setWASI(WASIConfiguration())
        #expect {
            try linker.instantiatePre(try Module(engine: engine, wasm: wasm)).instantiate(in: store).call("_start")
        } throws: {
            if case WasmtimeError.exit(status: 42, _) = $0 { true } else { false }
        }
    }
}
