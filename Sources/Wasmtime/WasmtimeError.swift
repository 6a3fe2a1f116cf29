import CWasmtime

/// An error or trap reported by Wasmtime, carrying Wasmtime's own message.
///
/// The three cases are the three ways a call into Wasm can fail, which callers treat
/// differently: a trap is the guest's fault, an exit is the guest's choice, and an error is
/// anything else (a host function's refusal, a failed instantiation, a bad configuration).
public enum WasmtimeError: Error, Sendable, CustomStringConvertible {
    /// The guest trapped. The code is `nil` for traps that are not instruction traps, such as
    /// one raised by a host function.
    case trap(TrapCode?, message: String)
    /// The guest ended itself through WASI `proc_exit`. Wasmtime reports statuses of 126 and
    /// above as plain errors, so they arrive as ``error(message:)``.
    case exit(status: Int32, message: String)
    /// Any other failure.
    case error(message: String)

    /// What went wrong, in Wasmtime's words.
    public var message: String {
        switch self {
        case .trap(_, let message), .exit(_, let message), .error(let message): message
        }
    }

    public var description: String { message }

    /// Takes ownership of a Wasmtime error and frees it.
    init(consuming error: OpaquePointer) {
        var vec = wasm_byte_vec_t()
        wasmtime_error_message(error, &vec)
        var status: Int32 = 0
        let exited = wasmtime_error_exit_status(error, &status)
        wasmtime_error_delete(error)
        let message = consumeMessage(&vec)
        self = exited ? .exit(status: status, message: message) : .error(message: message)
    }

    /// Takes ownership of a Wasmtime trap and frees it.
    init(consumingTrap trap: OpaquePointer) {
        var vec = wasm_byte_vec_t()
        wasm_trap_message(trap, &vec)
        var raw: wasmtime_trap_code_t = 0
        let hasCode = wasmtime_trap_code(trap, &raw)
        wasm_trap_delete(trap)
        self = .trap(hasCode ? TrapCode(rawValue: raw) : nil, message: consumeMessage(&vec))
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
