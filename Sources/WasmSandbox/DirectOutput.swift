import Wasmtime

/// A replacement for WASI's `fd_write` that hands stdout and stderr bytes straight to the
/// run's ``CappedOutput`` on the guest's own thread.
///
/// Wasmtime's custom-output streams pass every write to one of its worker threads and wait
/// for it: about 35 µs per write, which would dominate a short run. Writing here is a copy.
/// It also makes the output cap exact: the write that crosses it stops the run at once.
///
/// Runs without writable directories get this function alone: every descriptor but stdout
/// and stderr gets `EBADF`, which is what it would get anyway with nothing writable. Runs
/// with writable directories get ``FileWrites``, which sends stdio here and the rest on.
enum DirectOutput {
    /// Defines `wasi_snapshot_preview1.fd_write` on a linker that already has WASI.
    static func define(on linker: inout LinkerBuilder<RunState>) throws(WasmtimeError) {
        try linker.shadowWASI("fd_write") { caller, run, arguments in
            try write(caller: caller, run: run, arguments: arguments) ?? WASIErrno.badDescriptor
        }
    }

    /// Writes `fd_write(fd, iovecs, count, result)` to stdout or stderr; `nil` for any other
    /// descriptor.
    static func write(caller: Caller<RunState>, run: RunState, arguments: HostArguments) throws -> Int32? {
        let output: CappedOutput
        switch try arguments.integer(at: 0) {
        case 1: output = run.stdout
        case 2: output = run.stderr
        default: return nil
        }
        let (base, count, resultAddress) = (
            try arguments.integer(at: 1), try arguments.integer(at: 2), try arguments.integer(at: 3)
        )
        let errno = try caller.withMemory { memory -> Int32 in
            guard totalLength(of: base, count: count, in: UnsafeRawBufferPointer(memory)) != nil,
                resultAddress + 4 <= memory.count
            else { return count > HostCallBounds.maxIOVecs ? WASIErrno.invalid : WASIErrno.fault }
            var total: UInt32 = 0
            for index in 0..<count {
                let (address, length) = iovec(index, at: base, in: UnsafeRawBufferPointer(memory))
                output.write(UnsafeRawBufferPointer(rebasing: memory[address..<address + length]))
                total &+= UInt32(length)
                if run.control.stopReason != .none { break }
            }
            memory.storeBytes(of: total, toByteOffset: resultAddress, as: UInt32.self)
            return WASIErrno.success
        }
        if run.control.stopReason == .outputLimit { throw SandboxError("output cap reached") }
        return errno
    }

    /// The bytes `count` iovecs at `base` describe, or `nil` when there are more than
    /// ``HostCallBounds/maxIOVecs`` or any lies outside `memory`.
    static func totalLength(of base: Int, count: Int, in memory: UnsafeRawBufferPointer) -> Int? {
        guard count <= HostCallBounds.maxIOVecs, base + count * 8 <= memory.count else { return nil }
        var total = 0
        for index in 0..<count {
            let (address, length) = iovec(index, at: base, in: memory)
            guard address + length <= memory.count else { return nil }
            total += length
        }
        return total
    }

    private static func iovec(_ index: Int, at base: Int, in memory: UnsafeRawBufferPointer) -> (Int, Int) {
        (
            Int(memory.loadUnaligned(fromByteOffset: base + index * 8, as: UInt32.self)),
            Int(memory.loadUnaligned(fromByteOffset: base + index * 8 + 4, as: UInt32.self))
        )
    }
}
