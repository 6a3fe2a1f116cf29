import Wasmtime

/// WASI preview 1 errno values returned by the sandbox's own host functions.
enum WASIErrno {
    static let success: Int32 = 0
    static let badDescriptor: Int32 = 8
    static let fault: Int32 = 21
    static let invalid: Int32 = 28
}

extension Linker {
    /// Replaces a WASI preview 1 function of four `i32` arguments (addresses and counts, read
    /// as unsigned) returning an errno with `body`, which also gets the calling run's state.
    func shadowWASI(
        _ name: String, _ body: @escaping @Sendable (Caller, RunState, [Int]) throws -> Int32
    ) throws(WasmtimeError) {
        allowShadowing(true)
        try defineFunction(
            module: "wasi_snapshot_preview1", name: name, parameters: [.i32, .i32, .i32, .i32], results: [.i32]
        ) { caller, args in
            guard let run = caller.storeData as? RunState else {
                throw SandboxError("\(name) called outside a sandboxed run")
            }
            let values = args.map { value -> Int in
                if case .i32(let raw) = value { Int(UInt32(bitPattern: raw)) } else { 0 }
            }
            return [.i32(try body(caller, run, values))]
        }
    }
}
