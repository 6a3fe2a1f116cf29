import Wasmtime

/// The language engines' channel to their host, `host.call(request, length, out_pointer,
/// out_length) -> status`.
///
/// Its one use is the value of a session call's final expression: the engine sends
/// ``valueFrame`` followed by the value's text, and the host keeps the text, up to the
/// call's cap, in the run's ``ValueSlot``. Every request, that one included, is answered
/// "no host bound" (-1): the host never writes into the guest, and reads at most the prefix
/// and the capped text, so whatever the guest passes costs the host a bounded copy at most.
enum HostCall {
    /// The engine's status for "no host is bound to this channel".
    static let noHostBound: Int32 = -1
    /// How an engine's request carrying a final expression's value starts (then UTF-8 text);
    /// no JSON request of the engine's own tool protocol starts with a NUL byte.
    static let valueFrame = Array("\0wasm-sandbox:value\0".utf8)

    static func define(on linker: inout LinkerBuilder<RunState>) throws(WasmtimeError) {
        try linker.defineFunction(
            module: "host", name: "call", parameters: [.i32, .i32, .i32, .i32], results: [.i32]
        ) { caller, arguments, results in
            if let slot = caller.data.value {
                try receive(
                    from: caller, request: try arguments.integer(at: 0), length: try arguments.integer(at: 1),
                    into: slot)
            }
            try results.set(.i32(noHostBound), at: 0)
        }
    }

    /// Keeps the text of a value frame; ignores any other request, and frames that do not
    /// lie inside the guest's memory.
    private static func receive(from caller: Caller<RunState>, request: Int, length: Int, into slot: ValueSlot) throws {
        guard length >= valueFrame.count else { return }
        let cap = slot.cap
        try caller.withMemory { memory in
            guard request + length <= memory.count,
                memory[request..<request + valueFrame.count].elementsEqual(valueFrame)
            else { return }
            let start = request + valueFrame.count
            let kept = min(length - valueFrame.count, cap)
            slot.set(Array(memory[start..<start + kept]), truncated: kept < length - valueFrame.count)
        }
    }
}
