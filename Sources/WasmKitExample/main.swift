// The smallest user of the WasmSandboxWasmKit product: it depends on nothing that links
// libwasmtime, which scripts/cli-test.sh checks with ldd. Runs a WAT command given as an
// argument (or a greeting) and prints its status and output.
import WasmSandboxCore
import WasmSandboxWasmKit

let greeting = """
    (module
      (import "wasi_snapshot_preview1" "fd_write" (func $write (param i32 i32 i32 i32) (result i32)))
      (memory (export "memory") 1)
      (data (i32.const 16) "hello from WasmKit\\n")
      (func (export "_start")
        (i32.store (i32.const 0) (i32.const 16))
        (i32.store (i32.const 4) (i32.const 19))
        (drop (call $write (i32.const 1) (i32.const 0) (i32.const 1) (i32.const 8)))))
    """
let source = CommandLine.arguments.count > 1 ? CommandLine.arguments[1] : greeting
let sandbox = try WasmKitSandbox()
let result = await sandbox.execute(ExecutionRequest(.wat(source)))
print("status: \(result.status.rawValue)")
print(result.stdoutText, terminator: "")
