import Wasmtime

/// The Python engine's channel to its host, `host.call(request, length, out_pointer,
/// out_length) -> status`, answered "no host bound" (-1) for every request.
///
/// Nothing is bound to it yet, so the host reads none of the request's bytes and writes
/// nothing into the guest: whatever the guest passes never reaches the host.
enum HostCall {
    /// The engine's status for "no host is bound to this channel".
    static let noHostBound: Int32 = -1

    static func define(on linker: inout LinkerBuilder<RunState>) throws(WasmtimeError) {
        try linker.defineFunction(
            module: "host", name: "call", parameters: [.i32, .i32, .i32, .i32], results: [.i32]
        ) { _, _, results in
            try results.set(.i32(noHostBound), at: 0)
        }
    }
}
