// wasm-sandbox-compile: compiles one untrusted module for the sandbox, in a process of its
// own, under resource limits the sandbox chose.
//
// Cranelift's compile time and memory are superlinear in some module shapes, and a compile
// cannot be interrupted, so the sandbox never compiles untrusted code in its own process:
// it starts this helper, which caps its own address space and CPU time before reading
// anything, compiles, and writes the serialized module to stdout. The sandbox kills it at
// its wall-clock budget and loads the result as it loads its disk cache.
//
// Usage: wasm-sandbox-compile ENGINE-JSON wasm|wat MEMORY-BYTES CPU-SECONDS < module > serialized
// Exit: 0 compiled; 65 the input is not a valid module (message on stderr); 70 other failures.

import Foundation
import Wasmtime

#if canImport(Glibc)
    import Glibc
#endif

func fail(_ status: Int32, _ message: String) -> Never {
    FileHandle.standardError.write(Data(message.utf8))
    exit(status)
}

let arguments = CommandLine.arguments
guard arguments.count == 5, let memoryBytes = UInt64(arguments[3]), let cpuSeconds = UInt64(arguments[4]),
    arguments[2] == "wasm" || arguments[2] == "wat"
else { fail(70, "usage: wasm-sandbox-compile ENGINE-JSON wasm|wat MEMORY-BYTES CPU-SECONDS") }

var memoryLimit = rlimit(rlim_cur: rlim_t(memoryBytes), rlim_max: rlim_t(memoryBytes))
var cpuLimit = rlimit(rlim_cur: rlim_t(cpuSeconds), rlim_max: rlim_t(cpuSeconds + 1))
guard setrlimit(__rlimit_resource_t(RLIMIT_AS.rawValue), &memoryLimit) == 0,
    setrlimit(__rlimit_resource_t(RLIMIT_CPU.rawValue), &cpuLimit) == 0
else {
    fail(70, "cannot set resource limits: \(String(cString: strerror(errno)))")
}

var configuration: EngineConfiguration
do {
    configuration = try JSONDecoder().decode(EngineConfiguration.self, from: Data(arguments[1].utf8))
} catch {
    fail(70, "bad engine configuration: \(error)")
}
// The same code generation as the sandbox's engine, without its instance pool: the pool's
// address-space reservation would not fit under the memory limit, and it plays no part in
// the compiled code.
configuration.pooling = nil

let input = [UInt8](FileHandle.standardInput.readDataToEndOfFile())
do {
    let engine = try Engine(configuration)
    let wasm: [UInt8]
    if arguments[2] == "wat" {
        do { wasm = try wat2wasm(String(decoding: input, as: UTF8.self)) } catch {
            fail(65, "invalid WAT: \(error.message)")
        }
    } else {
        wasm = input
    }
    let module: Module
    do { module = try Module(engine: engine, wasm: wasm) } catch {
        fail(65, "invalid WebAssembly module: \(error.message)")
    }
    let serialized = try module.serialize()
    FileHandle.standardOutput.write(Data(serialized))
} catch {
    fail(70, "compiling failed: \(error)")
}
