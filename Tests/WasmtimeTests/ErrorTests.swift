import Testing
import Wasmtime

@Suite("Wasmtime failures as WasmtimeError cases")
struct ErrorTests {
    private func run(_ text: String, wasi: Bool = false) throws {
        let engine = try Engine()
        var builder = LinkerBuilder<Void>(engine: engine)
        if wasi { try builder.defineWASI() }
        let store = Store(engine: engine)
        if wasi { try store.setWASI(WASIConfiguration()) }
        let module = try Module(engine: engine, wasm: try wat2wasm(text))
        try builder.build().instantiatePre(module).instantiate(in: store).call("_start")
    }

    @Test func instructionTrapCarriesItsCode() {
        #expect {
            try run("(module (func (export \"_start\") unreachable))")
        } throws: { error in
            guard case WasmtimeError.trap(.unreachableCodeReached, let message) = error else { return false }
            return message.contains("unreachable") && String(describing: error) == message
        }
        #expect {
            try run("(module (func (export \"_start\") (drop (i32.div_u (i32.const 1) (i32.const 0)))))")
        } throws: { if case WasmtimeError.trap(.integerDivisionByZero, _) = $0 { true } else { false } }
    }

    @Test func procExitIsAnExitNotAnError() {
        func exit(_ status: Int32) -> String {
            """
            (module (import "wasi_snapshot_preview1" "proc_exit" (func $exit (param i32)))
              (memory (export "memory") 1)
              (func (export "_start") (call $exit (i32.const \(status)))))
            """
        }
        #expect {
            try run(exit(7), wasi: true)
        } throws: { if case WasmtimeError.exit(status: 7, _) = $0 { true } else { false } }
        // Wasmtime reports statuses of 126 and above as plain errors.
        #expect {
            try run(exit(200), wasi: true)
        } throws: { if case WasmtimeError.error = $0 { true } else { false } }
    }

    @Test func unresolvedImportIsAnError() {
        #expect {
            try run("(module (import \"host\" \"missing\" (func)) (func (export \"_start\")))")
        } throws: { error in
            guard case WasmtimeError.error(let message) = error else { return false }
            return message.contains("missing")
        }
    }
}
