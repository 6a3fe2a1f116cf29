import CWasmtime

/// An error or trap reported by Wasmtime, carrying Wasmtime's own message.
public struct WasmtimeError: Error, Sendable, CustomStringConvertible {
    /// What went wrong, in Wasmtime's words.
    public var message: String
    /// Set when the guest ended through WASI `proc_exit`.
    public var exitStatus: Int32?
    /// Set when the guest hit an instruction trap.
    public var trapCode: TrapCode?
    /// True when this came from a trap rather than an error.
    public var isTrap: Bool

    public init(message: String, exitStatus: Int32? = nil, trapCode: TrapCode? = nil, isTrap: Bool = false) {
        self.message = message
        self.exitStatus = exitStatus
        self.trapCode = trapCode
        self.isTrap = isTrap
    }

    public var description: String { message }

    /// Takes ownership of a Wasmtime error and frees it.
    init(consuming error: OpaquePointer) {
        var vec = wasm_byte_vec_t()
        wasmtime_error_message(error, &vec)
        var status: Int32 = 0
        let exited = wasmtime_error_exit_status(error, &status)
        wasmtime_error_delete(error)
        self.init(message: consumeMessage(&vec), exitStatus: exited ? status : nil)
    }

    /// Takes ownership of a Wasmtime trap and frees it.
    init(consumingTrap trap: OpaquePointer) {
        var vec = wasm_byte_vec_t()
        wasm_trap_message(trap, &vec)
        var raw: wasmtime_trap_code_t = 0
        let hasCode = wasmtime_trap_code(trap, &raw)
        wasm_trap_delete(trap)
        self.init(
            message: consumeMessage(&vec),
            trapCode: hasCode ? TrapCode(rawValue: raw) : nil,
            isTrap: true
        )
    }

    /// Throws whichever of an error or a trap Wasmtime returned, freeing both.
    static func check(_ error: OpaquePointer?, trap: OpaquePointer? = nil) throws(WasmtimeError) {
        if let error {
            if let trap { wasm_trap_delete(trap) }
            throw WasmtimeError(consuming: error)
        }
        if let trap { throw WasmtimeError(consumingTrap: trap) }
    }
}
