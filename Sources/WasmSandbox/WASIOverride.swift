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

extension LinkerBuilder<RunState> {
    /// Replaces a WASI preview 1 function returning an errno with `body`, which gets the
    /// calling run's state and the arguments.
    mutating func shadowWASI(
        _ name: String, parameters: [ValueType],
        _ body: @escaping @Sendable (Caller<RunState>, RunState, HostArguments) throws -> Int32
    ) throws(WasmtimeError) {
        allowShadowing(true)
        try defineFunction(module: "wasi_snapshot_preview1", name: name, parameters: parameters, results: [.i32]) {
            caller, arguments, results in
            try results.set(.i32(try body(caller, caller.data, arguments)), at: 0)
        }
    }

    /// ``shadowWASI(_:parameters:_:)`` for the common shape of four `i32` arguments.
    mutating func shadowWASI(
        _ name: String, _ body: @escaping @Sendable (Caller<RunState>, RunState, HostArguments) throws -> Int32
    ) throws(WasmtimeError) {
        try shadowWASI(name, parameters: [.i32, .i32, .i32, .i32], body)
    }
}

extension HostArguments {
    /// The integer argument at `index`: an `i32` read as unsigned, as WASI's addresses and
    /// sizes are, an `i64` as signed.
    func integer(at index: Int) throws(WasmtimeError) -> Int {
        switch try value(at: index) {
        case .i32(let raw): Int(UInt32(bitPattern: raw))
        case .i64(let raw): Int(raw)
        case .f32, .f64: 0
        }
    }
}
