import Wasmtime

/// A replacement for WASI's `fd_write` that hands stdout and stderr bytes straight to the
/// run's ``CappedOutput`` on the guest's own thread.
///
/// Wasmtime's custom-output streams pass every write to one of its worker threads and wait
/// for it: about 35 µs per write, which would dominate a short run. Writing here is a copy.
/// It also makes the output cap exact: the write that crosses it stops the run at once.
///
/// Only stdout and stderr exist for this function; every other descriptor gets `EBADF`. The
/// sandbox therefore uses it only for runs without writable mounts, where no other
/// descriptor could be written anyway; runs with writable mounts keep Wasmtime's `fd_write`.
enum DirectOutput {
    /// Defines `wasi_snapshot_preview1.fd_write` on a linker that already has WASI.
    static func define(on linker: Linker) throws(WasmtimeError) {
        try linker.shadowWASI("fd_write") { caller, run, arguments in
            let output: CappedOutput
            switch arguments[0] {
            case 1: output = run.stdout
            case 2: output = run.stderr
            default: return WASIErrno.badDescriptor
            }
            let (base, iovecCount, resultAddress) = (arguments[1], arguments[2], arguments[3])
            let errno = try caller.withMemory { memory -> Int32 in
                guard base + iovecCount * 8 <= memory.count, resultAddress + 4 <= memory.count else {
                    return WASIErrno.fault
                }
                var total: UInt32 = 0
                for index in 0..<iovecCount {
                    let address = Int(memory.loadUnaligned(fromByteOffset: base + index * 8, as: UInt32.self))
                    let length = Int(memory.loadUnaligned(fromByteOffset: base + index * 8 + 4, as: UInt32.self))
                    guard address + length <= memory.count else { return WASIErrno.fault }
                    output.write(UnsafeRawBufferPointer(rebasing: memory[address..<address + length]))
                    total &+= UInt32(length)
                }
                memory.storeBytes(of: total, toByteOffset: resultAddress, as: UInt32.self)
                return WASIErrno.success
            }
            if run.control.stopReason == .outputLimit { throw SandboxError("output cap reached") }
            return errno
        }
    }
}
