import Foundation
import Testing
import WasmSandbox

/// Modules whose bytes are small but whose counts would cost the host far more: locals,
/// element entries, constant expressions, text nesting. Each must be refused (or stopped)
/// before it takes host memory or time outside the run's limits.
@Suite struct ModuleBoundsTests {
    /// A WebAssembly binary written by hand: the attacks need shapes no WAT tool emits.
    enum Binary {
        static func leb(_ value: Int) -> [UInt8] {
            var value = value
            var out: [UInt8] = []
            repeat {
                let byte = UInt8(value & 0x7F)
                value >>= 7
                out.append(value == 0 ? byte : byte | 0x80)
            } while value != 0
            return out
        }

        static func vector(_ items: [[UInt8]]) -> [UInt8] { leb(items.count) + items.flatMap { $0 } }

        static func section(_ id: UInt8, _ items: [[UInt8]]) -> [UInt8] {
            let payload = vector(items)
            return [id] + leb(payload.count) + payload
        }

        static func body(locals: [[UInt8]] = [], _ code: [UInt8]) -> [UInt8] {
            let bytes = vector(locals) + code + [0x0B]
            return leb(bytes.count) + bytes
        }

        /// `(type (func))`, `n` functions of that type, `_start` exporting function 0.
        static func module(
            functions: Int = 1, imports: [[UInt8]] = [], extra: [[UInt8]] = [], bodies: [[UInt8]],
            start: Int? = nil, elements: [[UInt8]]? = nil, globals: [[UInt8]]? = nil
        ) -> [UInt8] {
            var bytes: [UInt8] = [0x00, 0x61, 0x73, 0x6D, 0x01, 0x00, 0x00, 0x00]
            bytes += section(1, [[0x60, 0x00, 0x00]] + extra)
            if !imports.isEmpty { bytes += section(2, imports) }
            bytes += section(3, Array(repeating: [0x00], count: functions))
            if elements != nil { bytes += section(4, [[0x70, 0x00, 0x0A]]) }
            if let globals { bytes += section(6, globals) }
            let first = imports.count
            bytes += section(7, [leb(6) + Array("_start".utf8) + [0x00] + leb(first)])
            if let start { bytes += [0x08] + leb(leb(start).count) + leb(start) }
            if let elements { bytes += section(9, elements) }
            bytes += section(10, bodies)
            return bytes
        }
    }

    @Test(arguments: backends) func aFunctionDeclaringTooManyLocalsIsInvalidInput(backend: SandboxBackendKind)
        async throws
    {
        // 16 KB: 2,000 functions of 99,999 locals each. WasmKit's parser stored every local:
        // 3.9 GB of host memory and 113 s before the bound.
        let body = Binary.body(locals: [Binary.leb(99_999) + [0x7F]], [])
        let module = Binary.module(functions: 2_000, bodies: Array(repeating: body, count: 2_000))
        try await onBackend(backend) {
            let result = await sharedSandbox.execute(request(.wasm(module)))
            #expect(result.status == .invalidInput)
            #expect(result.message?.contains("locals") == true, "\(result.message ?? "")")
        }
    }

    @Test(arguments: backends) func aNonConstantInstructionInAConstantExpressionIsInvalidInput(
        backend: SandboxBackendKind
    ) async throws {
        // A global initialised by `nop`s then `i32.const 0`: WasmKit's parser would store each
        // as an instruction value before validation refused them (a million in 1 MB).
        let global: [UInt8] = [0x7F, 0x00] + Array(repeating: 0x01, count: 100_000) + [0x41, 0x00, 0x0B]
        let module = Binary.module(bodies: [Binary.body([])], globals: [global])
        try await onBackend(backend) {
            let result = await sharedSandbox.execute(request(.wasm(module)))
            #expect(result.status == .invalidInput)
            #expect(result.message?.contains("const") == true, "\(result.message ?? "")")
        }
    }

    @Test func elementSegmentsLargerThanATableAreRefusedOnWasmKit() async throws {
        // A passive segment of 2M `ref.func 0` entries in 2 MB; 30M took 3.1 GB of host memory.
        func segment(_ count: Int) -> [UInt8] {
            Binary.leb(1) + [0x00] + Binary.leb(count) + Array(repeating: 0x00, count: count)
        }
        let bomb = Binary.module(bodies: [Binary.body([])], elements: [segment(2_000_000)])
        let fine = Binary.module(bodies: [Binary.body([])], elements: [segment(1_000)])
        try await onBackend(.wasmkit) {
            let refused = await sharedSandbox.execute(request(.wasm(bomb)))
            #expect(refused.status == .invalidInput)
            #expect(refused.message?.contains("element segments") == true, "\(refused.message ?? "")")
            #expect(await sharedSandbox.execute(request(.wasm(fine))).status == .ok)
        }
    }

    @Test(arguments: backends) func deeplyFoldedWATIsRefusedOnWasmKitBeforeItsParserRecurses(
        backend: SandboxBackendKind
    ) async throws {
        // 7,000 folded blocks overflowed an 8 MB stack in WasmKit's text parser (SIGSEGV).
        func nested(_ depth: Int) -> String {
            "(module (func (export \"_start\") " + String(repeating: "(block ", count: depth)
                + String(repeating: ")", count: depth) + "))"
        }
        // Parentheses in strings and comments do not count.
        let commented = "(module (; (((( ;) (func (export \"_start\")) (data \"((((\"))"
        try await onBackend(backend) {
            let deep = await sharedSandbox.execute(request(.wat(nested(10_000))))
            if backend == .wasmkit {
                #expect(deep.status == .invalidInput)
                #expect(
                    deep.message?.contains("nests parentheses more than 1000 deep") == true, "\(deep.message ?? "")")
            } else {
                #expect(deep.status == .ok, "\(deep.message ?? "")")
            }
            #expect(await sharedSandbox.execute(request(.wat(nested(900)))).status == .ok)
            #expect(await sharedSandbox.execute(request(.wat(commented))).status == .ok)
        }
    }

    @Test(arguments: backends) func anInvalidModulesStartFunctionNeverRuns(backend: SandboxBackendKind)
        async throws
    {
        // Function 1 (the start) writes "ran" with fd_write; function 2 is invalid (an i32.add
        // with nothing to add). WasmKit's eager translation came after the start function.
        let fdWrite: [UInt8] =
            Binary.leb(22) + Array("wasi_snapshot_preview1".utf8) + Binary.leb(8) + Array("fd_write".utf8) + [
                0x00, 0x01,
            ]
        let writeType: [UInt8] = [0x60, 0x04, 0x7F, 0x7F, 0x7F, 0x7F, 0x01, 0x7F]
        // iovec at 16 → (0, 3); "ran" at 0; fd_write(1, 16, 1, 32).
        let start: [UInt8] =
            [0x41, 0x10, 0x41, 0x00, 0x36, 0x02, 0x00, 0x41, 0x14, 0x41, 0x03, 0x36, 0x02, 0x00]
            + [0x41, 0x00, 0x41, 0xF2, 0xC2, 0xB9, 0x03, 0x36, 0x02, 0x00]  // "ran\0" little-endian
            + [0x41, 0x01, 0x41, 0x10, 0x41, 0x01, 0x41, 0x20, 0x10, 0x00, 0x1A]
        var module = Binary.module(
            functions: 3, imports: [fdWrite], extra: [writeType],
            bodies: [Binary.body([]), Binary.body(start), Binary.body([0x6A, 0x1A])], start: 2)
        // A memory for the start function: inserted after the function section (id 3).
        let memory = Binary.section(5, [[0x00, 0x01]])
        let functionSection =
            8 + Binary.section(1, [[0x60, 0x00, 0x00], writeType]).count
            + Binary.section(2, [fdWrite]).count
        let functionSectionLength = Binary.section(3, Array(repeating: [0x00], count: 3)).count
        module.insert(contentsOf: memory, at: functionSection + functionSectionLength)
        try await onBackend(backend) {
            let result = await sharedSandbox.execute(request(.wasm(module)))
            #expect(result.status == .invalidInput, "\(result.message ?? "")")
            #expect(result.stdoutText == "")
        }
    }

    @Test(arguments: backends) func callsToAFunctionWithThousandsOfLocalsStopAtTheTimeout(
        backend: SandboxBackendKind
    ) async throws {
        // A call clears the callee's 4,000 locals but costs one unit of WasmKit's fuel: without
        // the allowance's divisor, a 500 ms timeout ran past 300 s.
        let locals = Array(repeating: "i64", count: 4_000).joined(separator: " ")
        let wat = """
            (module (func $big (local \(locals)))
              (func (export "_start") (loop $again (call $big) (br $again))))
            """
        try await onBackend(backend) {
            let result = await sharedSandbox.execute(request(wat, limits: ExecutionLimits(timeout: .milliseconds(200))))
            #expect(result.status == .timedOut, "\(result.message ?? "")")
        }
    }
}

extension ModuleBoundsTests {
    /// Seventy blocks of a thousand results each: 70,000 values on the stack, which WasmKit's
    /// translator asserts it never holds (a debug build ended with SIGILL); a release build
    /// refuses the function for its frame. Wasmtime runs it.
    @Test(arguments: backends) func aFunctionPushingSeventyThousandValuesIsRefusedOnWasmKit(
        backend: SandboxBackendKind
    ) async throws {
        let thousand: [UInt8] = [0x60, 0x00] + Binary.vector(Array(repeating: [0x7F], count: 1_000))
        let block: [UInt8] = [0x02, 0x01] + Array(repeating: [0x41, 0x00], count: 1_000).flatMap { $0 } + [0x0B]
        let code = Array(repeating: block, count: 70).flatMap { $0 } + Array(repeating: 0x1A, count: 70_000)
        let module = Binary.module(extra: [thousand], bodies: [Binary.body(code)])
        try await onBackend(backend) {
            let result = await sharedSandbox.execute(request(.wasm(module)))
            #expect(result.status == (backend == .wasmkit ? .invalidInput : .ok), "\(result.message ?? "")")
        }
    }
}

/// The hostile review's bypasses of the first scan: each one reached WasmKit's parser.
extension ModuleBoundsTests {
    @Test(arguments: backends) func aNameSectionIndexPastTheFunctionsIsHarmless(backend: SandboxBackendKind)
        async throws
    {
        // Function names for index 0x10000000: WasmKit looked it up unchecked while describing
        // the trap and the process died (SIGSEGV on release, SIGILL on debug).
        let names: [UInt8] = [0x01, 0x08, 0x01, 0x80, 0x80, 0x80, 0x80, 0x01, 0x01, 0x78]
        let custom: [UInt8] = [0x00] + Binary.leb(5 + names.count) + [0x04] + Array("name".utf8) + names
        let module = Binary.module(bodies: [Binary.body([0x00])]) + custom  // unreachable
        try await onBackend(backend) {
            let result = await sharedSandbox.execute(request(.wasm(module)))
            #expect(result.status == .trapped, "\(result.message ?? "")")
            #expect(result.trap == "unreachable")
        }
    }

    @Test func bytesTheScanCannotFollowAreRefusedOnWasmKit() async throws {
        let honest = Binary.body(locals: [Binary.leb(40_000) + [0x7F]], [])
        // A first body that claims no bytes: WasmKit then read the next bodies' locals as
        // instructions of the section, past what the scan had counted.
        let lying = Binary.module(functions: 3, bodies: [[0x00], honest, honest])
        let elementKind = Binary.module(
            bodies: [Binary.body([])], elements: [Binary.leb(1) + [0x80, 0x00] + Binary.leb(3) + [0x00, 0x00, 0x00]])
        let flags8 = Binary.module(
            bodies: [Binary.body([])], elements: [Binary.leb(8) + [0x41, 0x00, 0x0B, 0x00, 0x00]])
        let longConstant = Binary.module(
            bodies: [Binary.body([])],
            globals: [
                [0x7F, 0x00, 0x41, 0x00] + Array(repeating: [0x41, 0x01, 0x6A], count: 100).flatMap { $0 } + [0x0B]
            ])
        let manyParameters = Binary.module(
            extra: [[0x60] + Binary.vector(Array(repeating: [0x7F], count: 2_000)) + [0x00]], bodies: [Binary.body([])])
        try await onBackend(.wasmkit) {
            for (name, module) in [
                ("a body size of zero", lying), ("an element kind written in two bytes", elementKind),
                ("element flags 8", flags8), ("a constant expression of 201 instructions", longConstant),
                ("a type of 2,000 parameters", manyParameters),
            ] {
                let result = await sharedSandbox.execute(request(.wasm(module)))
                #expect(result.status == .invalidInput, "\(name): \(result.message ?? "")")
            }
        }
    }

    @Test(arguments: ["(module ;; a comment ended by a carriage return\r", "(module (; (;) ;)"])
    func commentsEndWhereWasmKitsLexerEndsThem(prefix: String) async throws {
        // Each prefix once hid the nesting from the check, which then let 7,000 folded blocks
        // crash the text parser; 1,500 are enough to see the count.
        let wat =
            prefix + "(func (export \"_start\") " + String(repeating: "(block ", count: 1_500)
            + String(repeating: ")", count: 1_500) + "))"
        try await onBackend(.wasmkit) {
            let result = await sharedSandbox.execute(request(.wat(wat)))
            #expect(result.status == .invalidInput)
            #expect(result.message?.contains("nests parentheses") == true, "\(result.message ?? "")")
        }
    }
}

/// The second review: translation work that grows faster than the bytes, and WAT text that
/// costs more than its size before any count is checked.
extension ModuleBoundsTests {
    @Test(arguments: backends) func translationThatWouldTakeTooLongIsRefusedOnWasmKit(backend: SandboxBackendKind)
        async throws
    {
        // One br_table of 5,000 entries to one block (WasmKit copied the label's users per
        // entry: 16,000 took 3.3 s), and 70,000 nested blocks.
        let table: [UInt8] =
            [0x02, 0x40, 0x41, 0x00, 0x0E] + Binary.leb(5_000) + Array(repeating: 0x00, count: 5_001) + [0x0B]
        let nested: [UInt8] =
            Array(repeating: [UInt8]([0x02, 0x40]), count: 70_000).flatMap { $0 }
            + Array(repeating: UInt8(0x0B), count: 70_000)
        try await onBackend(backend) {
            for code: [UInt8] in [table, nested] {
                let result = await sharedSandbox.execute(request(.wasm(Binary.module(bodies: [Binary.body(code)]))))
                #expect(result.status == (backend == .wasmkit ? .invalidInput : .ok), "\(result.message ?? "")")
            }
        }
    }

    @Test func watTextPastAMegabyteIsRefusedOnWasmKit() async throws {
        let padded = "(module (func (export \"_start\"))) ;; " + String(repeating: "x", count: 1 << 20)
        try await onBackend(.wasmkit) {
            let result = await sharedSandbox.execute(request(.wat(padded)))
            #expect(result.status == .invalidInput)
            #expect(result.message?.contains("converts at most 1048576") == true, "\(result.message ?? "")")
        }
    }
}

/// A module that fails its first run keeps that refusal only when no limit took part.
extension ModuleBoundsTests {
    @Test func aRefusalThatDependsOnTheLimitsIsNotKeptOnWasmKit() async throws {
        // Four pages of initial memory: refused under a 64 KiB cap, fine under the default.
        let wat = #"(module (memory 4) (func (export "_start")))"#
        try await onBackend(.wasmkit) {
            let small = await sharedSandbox.execute(
                request(wat, limits: ExecutionLimits(timeout: generousTimeout, memoryBytes: 64 << 10)))
            #expect(small.status == .invalidInput, "\(small.message ?? "")")
            #expect(await sharedSandbox.execute(request(wat)).status == .ok)
        }
    }

    @Test func aModuleThatCanNeverRunGetsTheSameRefusalEachTimeOnWasmKit() async throws {
        // An import no host defines: refused at instantiation whatever the limits, and kept.
        let wat = #"(module (import "nowhere" "f" (func)) (func (export "_start")))"#
        try await onBackend(.wasmkit) {
            let first = await sharedSandbox.execute(request(wat))
            let second = await sharedSandbox.execute(request(wat))
            #expect(first.status == .invalidInput, "\(first.message ?? "")")
            #expect(second.status == .invalidInput)
            #expect(second.message == first.message)
        }
    }
}
