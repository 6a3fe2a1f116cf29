import Testing
import WasmSandbox

@Suite("Bad input gets a clear error")
struct InputTests {
    func expectInvalid(_ input: ExecutionInput, mentioning phrase: String) async {
        let result = await sharedSandbox.execute(ExecutionRequest(input))
        #expect(result.status == .invalidInput)
        #expect(result.message?.contains(phrase) == true, "message was: \(result.message ?? "nil")")
    }

    @Test(arguments: backends) func invalidWasmBytes(backend: SandboxBackendKind) async throws {
        try await onBackend(backend) {
            await expectInvalid(.wasm(Array("definitely not wasm".utf8)), mentioning: "invalid WebAssembly module")
        }
    }

    @Test(arguments: backends) func truncatedModule(backend: SandboxBackendKind) async throws {
        try await onBackend(backend) {
            await expectInvalid(.wasm([0x00, 0x61, 0x73, 0x6d, 0x01, 0x00]), mentioning: "invalid WebAssembly module")
        }
    }

    @Test(arguments: backends) func invalidWat(backend: SandboxBackendKind) async throws {
        try await onBackend(backend) {
            await expectInvalid(.wat("(module (func (export \"_start\") (i32.bogus)))"), mentioning: "invalid WAT")
        }
    }

    @Test(arguments: backends) func unknownImport(backend: SandboxBackendKind) async throws {
        try await onBackend(backend) {
            let wat = """
                (module (import "env" "launch_missiles" (func)) (func (export "_start")))
                """
            await expectInvalid(.wat(wat), mentioning: "launch_missiles")
        }
    }

    @Test(arguments: backends) func missingStart(backend: SandboxBackendKind) async throws {
        try await onBackend(backend) {
            await expectInvalid(.wat("(module (func (export \"main\")))"), mentioning: "_start")
        }
    }

    @Test(arguments: backends) func emptyInput(backend: SandboxBackendKind) async throws {
        try await onBackend(backend) {
            await expectInvalid(.wasm([]), mentioning: "empty module")
            await expectInvalid(.wat("  \n"), mentioning: "empty module")
        }
    }

    @Test(arguments: backends) func memoryLimitAboveTheSandboxMaximum(backend: SandboxBackendKind) async throws {
        try await onBackend(backend) {
            var given = ExecutionRequest(.wat(Guests.hello))
            given.limits = ExecutionLimits(memoryBytes: sharedSandbox.configuration.maxMemoryBytes + 65536)
            let result = await sharedSandbox.execute(given)
            #expect(result.status == .invalidInput)
            #expect(result.message?.contains("memory limit") == true)
        }
    }

    @Test(arguments: backends) func initialMemoryLargerThanTheLimit(backend: SandboxBackendKind) async throws {
        try await onBackend(backend) {
            var given = ExecutionRequest(.wat("(module (memory (export \"memory\") 1000) (func (export \"_start\")))"))
            given.limits = ExecutionLimits(memoryBytes: 1 << 20)
            let result = await sharedSandbox.execute(given)
            #expect(result.status == .invalidInput)
            #expect(
                result.message
                    == "the module's memory starts with 62 MiB of linear memory (65536000 bytes), more than this run's memory limit of 1048576 bytes: raise the limit"
            )
        }
    }

    @Test(arguments: backends) func argumentWithNulByte(backend: SandboxBackendKind) async throws {
        try await onBackend(backend) {
            var given = ExecutionRequest(.wat(Guests.hello))
            given.arguments = ["a\u{0}b"]
            let result = await sharedSandbox.execute(given)
            #expect(result.status != .ok)
            #expect(result.message?.contains("NUL") == true, "\(result.message ?? "")")
        }
    }

    @Test(arguments: backends) func serviceKeepsWorkingAfterBadInput(backend: SandboxBackendKind) async throws {
        try await onBackend(backend) {
            _ = await sharedSandbox.execute(ExecutionRequest(.wasm([1, 2, 3])))
            #expect(await run(Guests.hello).stdoutText == "hello\n")
        }
    }

    /// Wasmtime's instance pool holds one table per instance: a module with two is the
    /// request's problem, said plainly, not an internal error.
    @Test func aModuleWithMoreTablesThanThePoolHoldsIsInvalidInput() async {
        await expectInvalid(
            .wat(#"(module (table 1 funcref) (table 1 funcref) (func (export "_start")))"#),
            mentioning: "more than an instance of the sandbox's pool holds")
    }
}
