import Wasmtime

/// WASI preview 1 errno values returned by the sandbox's own host functions.
enum WASIErrno {
    static let success: Int32 = 0
    static let badDescriptor: Int32 = 8
    static let fault: Int32 = 21
    static let invalid: Int32 = 28
    static let noEntry: Int32 = 44
    static let noSpace: Int32 = 51
    static let notPermitted: Int32 = 63
    static let notCapable: Int32 = 76
}

/// Bounds on what one host call does for the guest, whatever counts the guest passes.
enum HostCallBounds {
    /// Buffers in one `fd_write`/`fd_pwrite`, as POSIX's `IOV_MAX`.
    static let maxIOVecs = 1024
    /// Subscriptions in one `poll_oneoff`.
    static let maxSubscriptions = 1024
}

extension Linker {
    /// Replaces a WASI preview 1 function returning an errno with `body`, which gets the
    /// calling run's state and the arguments (`i32` read as unsigned, `i64` as signed).
    func shadowWASI(
        _ name: String, parameters: [ValueType], _ body: @escaping @Sendable (Caller, RunState, [Int]) throws -> Int32
    ) throws(WasmtimeError) {
        allowShadowing(true)
        try defineFunction(module: "wasi_snapshot_preview1", name: name, parameters: parameters, results: [.i32]) {
            caller, args in
            guard let run = caller.storeData as? RunState else {
                throw SandboxError("\(name) called outside a sandboxed run")
            }
            let values = args.map { value -> Int in
                switch value {
                case .i32(let raw): Int(UInt32(bitPattern: raw))
                case .i64(let raw): Int(raw)
                default: 0
                }
            }
            return [.i32(try body(caller, run, values))]
        }
    }

    /// ``shadowWASI(_:parameters:_:)`` for the common shape of four `i32` arguments.
    func shadowWASI(
        _ name: String, _ body: @escaping @Sendable (Caller, RunState, [Int]) throws -> Int32
    ) throws(WasmtimeError) {
        try shadowWASI(name, parameters: [.i32, .i32, .i32, .i32], body)
    }
}
