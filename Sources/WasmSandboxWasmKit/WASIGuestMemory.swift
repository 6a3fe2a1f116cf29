import WasmKit

/// A guest's linear memory as ``GuardedWASI`` checks it: every address and length a guest
/// passes to WASI is tested here before WasmKit, or the guard itself, touches the bytes.
///
/// WasmKit's `Memory.withUnsafe(Mutable)BufferPointer(offset:count:)` answers an access
/// outside memory with a `precondition`, which kills the host process; so nothing reaches it
/// unchecked. Sizes are computed in `Int` from the guest's `UInt32`s, so no sum overflows.
struct WASIGuestMemory {
    let memory: Memory
    /// The bytes that may be touched: all of memory, less the byte at 2³²-1 of a full 4 GiB
    /// memory, as WasmKit's guest pointers are `UInt32` and its `advanced(by:)` traps when
    /// a pointer steps to 2³².
    let limit: Int

    /// `nil` for an empty memory: WasmKit may have no base address for it, and its
    /// accessors stop the process then even for a zero-length access.
    init?(_ memory: Memory) {
        let byteCount = memory.byteCount
        guard byteCount > 0 else { return nil }
        self.memory = memory
        limit = min(byteCount, Int(UInt32.max))
    }

    /// Whether `count` bytes at `address` lie inside memory.
    func contains(_ address: UInt32, count: Int) -> Bool {
        count >= 0 && count <= limit && Int(address) <= limit - count
    }

    /// Throws `EFAULT` unless `count` bytes at `address` lie inside memory.
    func check(_ address: UInt32, count: Int) throws(WASIGuardErrno) {
        guard contains(address, count: count) else { throw .fault }
    }

    /// Throws `EFAULT` unless the guest's (pointer, length) buffer lies inside memory.
    func check(_ address: UInt32, length: UInt32) throws(WASIGuardErrno) {
        try check(address, count: Int(length))
    }

    /// Checks a path argument: inside memory, and no longer than any host accepts.
    func checkPath(_ address: UInt32, length: UInt32) throws(WASIGuardErrno) {
        try check(address, length: length)
        guard Int(length) <= WASIGuardLimits.maxPathLength else { throw .nameTooLong }
    }

    /// Validates an iovec array (`count` entries of (u32 pointer, u32 length)) and every
    /// buffer it names, and returns the buffers and their total length.
    ///
    /// `EINVAL` for more than ``WASIGuardLimits/maxIOVecs`` buffers (bounding the host's work
    /// per call) or a total beyond `Int32.max`, which WasmKit would sum in `UInt32` and trap
    /// on; `EFAULT` for anything outside memory.
    func iovecs(at base: UInt32, count: UInt32) throws(WASIGuardErrno) -> (buffers: [(UInt32, UInt32)], total: Int) {
        guard count <= WASIGuardLimits.maxIOVecs else { throw .invalid }
        try check(base, count: Int(count) * 8)
        var buffers: [(UInt32, UInt32)] = []
        buffers.reserveCapacity(Int(count))
        var total = 0
        for index in 0..<Int(count) {
            let address = load32(Int(base) + index * 8)
            let length = load32(Int(base) + index * 8 + 4)
            try check(address, length: length)
            total += Int(length)
            buffers.append((address, length))
        }
        guard total <= Int(Int32.max) else { throw .invalid }
        return (buffers, total)
    }

    // The accessors below take addresses the caller has already checked.

    func load32(_ address: Int) -> UInt32 {
        memory.withUnsafeBufferPointer(offset: UInt(address), count: 4) {
            UInt32(littleEndian: $0.loadUnaligned(as: UInt32.self))
        }
    }

    func load64(_ address: Int) -> UInt64 {
        memory.withUnsafeBufferPointer(offset: UInt(address), count: 8) {
            UInt64(littleEndian: $0.loadUnaligned(as: UInt64.self))
        }
    }

    func load16(_ address: Int) -> UInt16 {
        memory.withUnsafeBufferPointer(offset: UInt(address), count: 2) {
            UInt16(littleEndian: $0.loadUnaligned(as: UInt16.self))
        }
    }

    func load8(_ address: Int) -> UInt8 {
        memory.withUnsafeBufferPointer(offset: UInt(address), count: 1) { $0[0] }
    }

    func store32(_ value: UInt32, at address: Int) {
        memory.withUnsafeMutableBufferPointer(offset: UInt(address), count: 4) {
            $0.storeBytes(of: value.littleEndian, as: UInt32.self)
        }
    }

    func store64(_ value: UInt64, at address: Int) {
        memory.withUnsafeMutableBufferPointer(offset: UInt(address), count: 8) {
            $0.storeBytes(of: value.littleEndian, toByteOffset: 0, as: UInt64.self)
        }
    }

    func store16(_ value: UInt16, at address: Int) {
        memory.withUnsafeMutableBufferPointer(offset: UInt(address), count: 2) {
            $0.storeBytes(of: value.littleEndian, as: UInt16.self)
        }
    }

    func store8(_ value: UInt8, at address: Int) {
        memory.withUnsafeMutableBufferPointer(offset: UInt(address), count: 1) { $0[0] = value }
    }

    func zero(_ address: Int, count: Int) {
        guard count > 0 else { return }
        memory.withUnsafeMutableBufferPointer(offset: UInt(address), count: count) {
            _ = $0.initializeMemory(as: UInt8.self, repeating: 0)
        }
    }

    func bytes(_ address: Int, count: Int) -> [UInt8] {
        guard count > 0 else { return [] }
        return memory.withUnsafeBufferPointer(offset: UInt(address), count: count) { Array($0) }
    }

    func write(_ bytes: some Collection<UInt8>, at address: Int) {
        guard !bytes.isEmpty else { return }
        memory.withUnsafeMutableBufferPointer(offset: UInt(address), count: bytes.count) { $0.copyBytes(from: bytes) }
    }

    func withBytes<R>(_ address: Int, count: Int, _ body: (UnsafeRawBufferPointer) throws -> R) rethrows -> R {
        try memory.withUnsafeBufferPointer(offset: UInt(address), count: count, body)
    }

    func withMutableBytes<R>(_ address: Int, count: Int, _ body: (UnsafeMutableRawBufferPointer) throws -> R) rethrows
        -> R
    {
        try memory.withUnsafeMutableBufferPointer(offset: UInt(address), count: count, body)
    }

    /// `memmove` within memory; both ranges already checked.
    func move(from source: Int, to destination: Int, count: Int) {
        guard count > 0, source != destination else { return }
        let low = min(source, destination)
        memory.withUnsafeMutableBufferPointer(offset: UInt(low), count: max(source, destination) - low + count) {
            span in
            let base = span.baseAddress!
            (base + (destination - low)).copyMemory(from: base + (source - low), byteCount: count)
        }
    }
}

/// A WASI errno the guard answers itself; thrown inside a call and returned to the guest.
struct WASIGuardErrno: Error, Equatable {
    let code: UInt32

    static let success = WASIGuardErrno(code: 0)
    static let badDescriptor = WASIGuardErrno(code: 8)
    static let fault = WASIGuardErrno(code: 21)
    static let invalid = WASIGuardErrno(code: 28)
    static let nameTooLong = WASIGuardErrno(code: 37)
    static let noEntry = WASIGuardErrno(code: 44)
    static let noSpace = WASIGuardErrno(code: 51)
    static let noSystem = WASIGuardErrno(code: 52)
    static let notDirectory = WASIGuardErrno(code: 54)
    static let notSocket = WASIGuardErrno(code: 57)
    static let notSupported = WASIGuardErrno(code: 58)
    static let notPermitted = WASIGuardErrno(code: 63)
    static let readOnly = WASIGuardErrno(code: 69)
    static let invalidSeek = WASIGuardErrno(code: 70)
}

/// Bounds on what one WASI call does for the guest, whatever counts it passes. The counts
/// match the Wasmtime backend's, so a guest sees the same limits on both.
enum WASIGuardLimits {
    /// Buffers in one vectored read or write, as POSIX's `IOV_MAX`.
    static let maxIOVecs: UInt32 = 1024
    /// Subscriptions in one `poll_oneoff`.
    static let maxSubscriptions: UInt32 = 1024
    /// The longest path read from the guest, Linux's `PATH_MAX`.
    static let maxPathLength = 4096
    /// `random_get` fills this much between two checkpoints.
    static let randomChunk: UInt32 = 64 * 1024
}
