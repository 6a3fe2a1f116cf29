import Wasmtime

#if canImport(Glibc)
    import Glibc
#endif

/// A replacement for WASI's `random_get` that fills the guest's buffer in bounded chunks.
///
/// Wasmtime's own fills the whole buffer in one uninterruptible host call; a guest asking
/// for hundreds of MiB would hold its thread past the deadline. This one checks for a stop
/// between chunks, and answers `EFAULT` (not a trap) for a buffer outside memory.
enum RandomSource {
    static let chunk = 64 * 1024

    /// Defines `wasi_snapshot_preview1.random_get` on a linker that already has WASI.
    static func define(on linker: inout LinkerBuilder<RunState>) throws(WasmtimeError) {
        try linker.shadowWASI("random_get", parameters: [.i32, .i32]) { caller, run, arguments in
            let (base, length) = (try arguments.integer(at: 0), try arguments.integer(at: 1))
            return try caller.withMemory { memory -> Int32 in
                guard base + length <= memory.count else { return WASIErrno.fault }
                var offset = base
                while offset < base + length {
                    if run.control.shouldStop() { throw SandboxError("the run was stopped in random_get") }
                    let count = min(chunk, base + length - offset)
                    // glibc's arc4random_buf: getrandom-seeded, never fails.
                    arc4random_buf(memory.baseAddress! + offset, count)
                    offset += count
                }
                return WASIErrno.success
            }
        }
    }
}
