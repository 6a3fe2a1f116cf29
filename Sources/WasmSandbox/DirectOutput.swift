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
    private static let errnoSuccess: Int32 = 0
    private static let errnoBadDescriptor: Int32 = 8
    private static let errnoFault: Int32 = 21

    /// Defines `wasi_snapshot_preview1.fd_write` on a linker that already has WASI.
    static func define(on linker: Linker) throws(WasmtimeError) {
        linker.allowShadowing(true)
        try linker.defineFunction(
            module: "wasi_snapshot_preview1", name: "fd_write",
            parameters: [.i32, .i32, .i32, .i32], results: [.i32]
        ) { caller, args in
            guard let run = caller.storeData as? RunState,
                case .i32(let fd) = args[0], case .i32(let iovecs) = args[1],
                case .i32(let count) = args[2], case .i32(let writtenOut) = args[3]
            else { throw SandboxError("fd_write called outside a sandboxed run") }
            let output: CappedOutput
            switch fd {
            case 1: output = run.stdout
            case 2: output = run.stderr
            default: return [.i32(errnoBadDescriptor)]
            }
            let errno = try caller.withMemory { memory -> Int32 in
                let base = Int(UInt32(bitPattern: iovecs))
                let iovecCount = Int(UInt32(bitPattern: count))
                let resultAddress = Int(UInt32(bitPattern: writtenOut))
                guard base + iovecCount * 8 <= memory.count, resultAddress + 4 <= memory.count else {
                    return errnoFault
                }
                var total: UInt32 = 0
                for index in 0..<iovecCount {
                    let address = Int(memory.loadUnaligned(fromByteOffset: base + index * 8, as: UInt32.self))
                    let length = Int(memory.loadUnaligned(fromByteOffset: base + index * 8 + 4, as: UInt32.self))
                    guard address + length <= memory.count else { return errnoFault }
                    output.write(UnsafeRawBufferPointer(rebasing: memory[address..<address + length]))
                    total &+= UInt32(length)
                }
                memory.storeBytes(of: total, toByteOffset: resultAddress, as: UInt32.self)
                return errnoSuccess
            }
            if run.control.stopReason == .outputLimit { throw SandboxError("output cap reached") }
            return [.i32(errno)]
        }
    }
}
