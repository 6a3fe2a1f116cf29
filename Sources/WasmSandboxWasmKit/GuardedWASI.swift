import Foundation
import WasmKit
import WasmKitWASI
import WasmSandboxCore

// WasmKit's WASI (`WasmKitWASI`) trusts the guest's pointers: a pointer outside memory
// reaches a `precondition` in `Memory.withUnsafe(Mutable)BufferPointer` and the whole host
// process dies (SIGILL). It also sleeps uninterruptibly in `poll_oneoff`, has no read-only
// preopens, and writes stdio to host descriptors. `GuardedWASI` defines every
// `wasi_snapshot_preview1` function itself: each checks every guest pointer against the
// memory's current size, answers what it can itself, and only then hands the call to
// WasmKit's own implementation (taken from `WASIBridgeToHost.hostFunctions`).
//
// How each function is guarded. "in" = bytes the host reads, "out" = bytes it writes; every
// region is checked before anything else happens; "stdio" = the guard's own answer for fds
// 0-2; "own" = answered by the guard without WasmKit.
//
// function                  guest pointers checked                  then
// ------------------------  --------------------------------------  ---------------------------------------------
// args_get, environ_get     table n×4 out, strings out (sizes: ¹)   WasmKit
// args_sizes_get,           2 × 4 out                               WasmKit
//   environ_sizes_get
// clock_res_get             8 out                                   own (1 ns); CPU-time clocks ENOTSUP
// clock_time_get            8 out                                   own, from the hooks' clocks
// fd_advise                 -                                       stdio ESPIPE; WasmKit
// fd_allocate               -                                       stdio ESPIPE; read-only EROFS; quota;
//                                                                     WasmKit (always ENOTSUP)
// fd_close                  -                                       stdio own; forgets read-only marks; WasmKit
// fd_datasync, fd_sync      -                                       stdio EINVAL; WasmKit
// fd_fdstat_get             24 out                                  stdio own; WasmKit
// fd_fdstat_set_flags       -                                       stdio accepted; WasmKit
// fd_fdstat_set_rights      -                                       stdio ENOTSUP; WasmKit (always ENOTSUP)
// fd_filestat_get           64 out                                  stdio own; WasmKit
// fd_filestat_set_size      -                                       stdio EINVAL; read-only EROFS; quota; WasmKit
// fd_filestat_set_times     -                                       stdio ENOTSUP; read-only EROFS; WasmKit
// fd_pread                  iovecs n×8 in, each buffer out, 4 out   iovecs (²); offset+total ≤ Int64.max;
//                                                                     stdio ESPIPE; WasmKit
// fd_prestat_dir_name       (path, len) out                         stdio EBADF; WasmKit
// fd_prestat_get            8 out                                   stdio EBADF; WasmKit
// fd_pwrite                 iovecs n×8 in, each buffer in, 4 out    as fd_pread; read-only EBADF; quota; WasmKit
// fd_read                   iovecs n×8 in, each buffer out, 4 out   iovecs (²); fd 0 own (hooks.stdin);
//                                                                     fds 1, 2 EBADF; WasmKit
// fd_readdir                (buf, len) out, 4 out                   stdio ENOTDIR; WasmKit, its overrun kept (³)
// fd_renumber               -                                       stdio ENOTSUP; moves read-only marks; WasmKit
// fd_seek, fd_tell          8 out                                   stdio ESPIPE; WasmKit
// fd_write                  iovecs n×8 in, each buffer in, 4 out    iovecs (²); fds 1, 2 own (hooks.write);
//                                                                     fd 0 EBADF; read-only EBADF; quota; WasmKit
// path_create_directory     path in                                 read-only EROFS; entry quota; WasmKit
// path_filestat_get         path in, 64 out                         WasmKit
// path_filestat_set_times   path in                                 read-only EROFS; WasmKit
// path_link                 2 paths in                              read-only (either side) EROFS; entry quota;
//                                                                     WasmKit (always ENOTSUP)
// path_open                 path in, 4 out                          read-only EROFS for creat/excl/trunc or
//                                                                     write rights; entry quota; marks fds opened
//                                                                     below read-only dirs; WasmKit
// path_readlink             path in, (buf, len) out, 4 out          WasmKit
// path_remove_directory,    path in                                 read-only EROFS; WasmKit
//   path_unlink_file
// path_rename               2 paths in                              read-only (either side) EROFS; WasmKit
// path_symlink              target in, path in                      read-only EROFS; escaping target EPERM;
//                                                                     entry quota; WasmKit
// poll_oneoff               n×48 in, n×32 out, 4 out                own (WASIGuardPoll.swift), 1 ≤ n ≤ 1024
// proc_exit                 -                                       WasmKit (throws its exit code)
// proc_raise, sock_accept,  -                                       ENOSYS; never reaches WasmKit
//   sock_recv, sock_send
// random_get                (buf, len) out                          WasmKit, 64 KiB at a time, checkpoints between
// sched_yield               -                                       own (success)
// sock_shutdown             -                                       stdio ENOTSOCK; WasmKit
//
// (¹) From the *_sizes_get call the guest made, else asked of WasmKit on a scratch memory.
// (²) At most 1024 iovecs and a total of at most Int32.max bytes, else EINVAL: WasmKit sums
//     the bytes moved in UInt32 and would trap.
// (³) See `readdir()`: WasmKit writes up to 7 bytes past the buffer.
//
// Paths longer than 4096 bytes get ENAMETOOLONG. A guest with no memory exported as
// "memory" (or an empty one) gets EFAULT from every function that takes a pointer.

/// What the sandbox supplies for one run; every closure is called on the run's own thread,
/// inside a WASI call.
struct WASIGuardHooks {
    /// Called first in every WASI call; throws to abort the whole run (deadline passed,
    /// cancelled, output cap crossed). The thrown error propagates out of the guest's
    /// invoke unchanged.
    var checkpoint: () throws -> Void
    /// Sleeps until the monotonic time `wake` (nanoseconds on the same clock as `started`)
    /// or until the run must stop; returns false when it must stop (the call then throws
    /// ``WASIGuardStop``).
    var sleep: (_ wake: UInt64) -> Bool
    /// The run's start, monotonic ns: the zero of the guest's monotonic clock (absolute
    /// clock subscriptions on the monotonic clock count from it).
    var started: UInt64
    /// Now, monotonic ns (the sandbox's clock, CLOCK_MONOTONIC).
    var now: () -> UInt64
    /// Wall time, ns since 1970.
    var wallNow: () -> UInt64
    /// Guest output to fd 1 (false) or 2 (true). The sandbox caps it itself; a
    /// checkpoint follows every write, so a cap crossed stops the run at that write.
    var write: (_ bytes: UnsafeRawBufferPointer, _ toStderr: Bool) -> Void
    /// The guest's stdin (fd 0), read from start to end.
    var stdin: [UInt8]
    /// File quota: bytes written to files (taken before a write, the unwritten part given
    /// back) and entries created, with the rules of the Wasmtime backend's `FileWrites`.
    var takeBytes: (Int) -> Bool
    var giveBytes: (Int) -> Void
    var takeEntry: () -> Bool
    var giveEntry: () -> Void
}

/// Thrown out of a WASI call (and so out of the guest's invoke) when `hooks.sleep` reports
/// that the run must stop.
struct WASIGuardStop: Error, CustomStringConvertible {
    var description: String { "the run was stopped while the guest slept in poll_oneoff" }
}

/// WasmKit's WASI preview 1, with every guest pointer checked, stdio kept in the sandbox,
/// an interruptible `poll_oneoff`, read-only preopens and the file quota.
enum GuardedWASI {
    static let module = "wasi_snapshot_preview1"

    /// Creates the bridge ``define(on:store:bridge:readOnlyGuestPaths:hooks:)`` expects.
    ///
    /// The bridge must be made exactly like this if made by hand: `.host()` with
    /// `.withPreopens(...)` and **without** `.withStdio(...)`, so that fds 0-2 do not exist
    /// in WasmKit's table and nothing can reach a host descriptor through them; the guard
    /// serves fds 0-2 itself (`fd_fdstat_get(1)` answers a non-tty stream, as Wasmtime does
    /// for captured output). Preopens get fds 3, 4, … in order. `args` and `environment`
    /// are passed explicitly: nothing of the host's leaks. The clocks are never asked (the
    /// guard answers from the hooks); random bytes come from the system generator.
    ///
    /// The caller owns the bridge and must call `close()` on it before releasing it (its
    /// `deinit` has a precondition); `close()` closes the preopens and any file the guest
    /// left open.
    ///
    /// Read-only preopens must not be reachable from a writable one on the host (nested
    /// directories or hard links): the guard refuses writes by descriptor, not by host path.
    static func makeBridge(
        arguments: [String], environment: [String: String], preopens: [(guestPath: String, hostPath: String)]
    ) throws -> WASIBridgeToHost {
        try WASIBridgeToHost(
            args: arguments, environment: environment,
            fileSystem: .host().withPreopens(
                preopens.map { WASIBridgeToHost.Preopen(guestPath: $0.guestPath, hostPath: $0.hostPath) }))
    }

    /// Defines every `wasi_snapshot_preview1` function on `imports` (after or instead of
    /// `bridge.link`, whose definitions these replace), each guarded.
    ///
    /// - Parameters:
    ///   - store: The run's store; the functions live in it, and a guest instance of
    ///     another store must not call them.
    ///   - bridge: Made as ``makeBridge(arguments:environment:preopens:)`` describes; one
    ///     per run, as it holds the guest's descriptor table.
    ///   - readOnlyGuestPaths: Guest paths of preopens the guest may only read (a trailing
    ///     `/` is ignored). Their descriptors are found at the run's first WASI call.
    ///   - hooks: The run's clocks, output, input, quota and stop checks.
    static func define(
        on imports: inout Imports, store: Store, bridge: WASIBridgeToHost, readOnlyGuestPaths: Set<String>,
        hooks: WASIGuardHooks
    ) {
        let run = WASIGuardRun(bridge: bridge, readOnlyGuestPaths: readOnlyGuestPaths, hooks: hooks)
        for function in functions {
            let returnsErrno = function.name != "proc_exit"
            imports.define(
                module: module, name: function.name,
                Function(store: store, parameters: function.parameters, results: returnsErrno ? [.i32] : []) {
                    caller, arguments in
                    try run.hooks.checkpoint()
                    let call = WASIGuardCall(
                        name: function.name, run: run, store: caller.store,
                        exported: exportedMemory(of: caller.instance), arguments: arguments)
                    let errno: UInt32
                    do {
                        try run.findReadOnlyPreopens(store: caller.store)
                        errno = try run.descriptorErrno(
                            function.name, try function.body(call), arguments: arguments, store: caller.store)
                    } catch let refusal as WASIGuardErrno {
                        errno = refusal.code
                    }
                    return returnsErrno ? [.i32(errno)] : []
                })
        }
    }

    private static func exportedMemory(of instance: Instance?) -> Memory? {
        guard case .memory(let memory)? = instance?.export("memory") else { return nil }
        return memory
    }

    typealias Body = @Sendable (WASIGuardCall) throws -> UInt32

    /// Every preview 1 function, by name, with its parameters and its guard.
    static let functions: [(name: String, parameters: [ValueType], body: Body)] = [
        ("args_get", [.i32, .i32], { try $0.stringTable(sizes: "args_sizes_get") }),
        ("args_sizes_get", [.i32, .i32], { try $0.sizes() }),
        ("environ_get", [.i32, .i32], { try $0.stringTable(sizes: "environ_sizes_get") }),
        ("environ_sizes_get", [.i32, .i32], { try $0.sizes() }),
        ("clock_res_get", [.i32, .i32], { try $0.clock(resolution: true, result: 1) }),
        ("clock_time_get", [.i32, .i64, .i32], { try $0.clock(resolution: false, result: 2) }),
        ("fd_advise", [.i32, .i64, .i64, .i32], { try $0.onFile(stdio: .invalidSeek) }),
        ("fd_allocate", [.i32, .i64, .i64], { try $0.resize(allocate: true) }),
        ("fd_close", [.i32], { try $0.close() }),
        ("fd_datasync", [.i32], { try $0.onFile(stdio: .invalid) }),
        ("fd_fdstat_get", [.i32, .i32], { try $0.fdstat() }),
        ("fd_fdstat_set_flags", [.i32, .i32], { try $0.onFile(stdio: .success) }),
        ("fd_fdstat_set_rights", [.i32, .i64, .i64], { try $0.onFile(stdio: .notSupported) }),
        ("fd_filestat_get", [.i32, .i32], { try $0.filestat() }),
        ("fd_filestat_set_size", [.i32, .i64], { try $0.resize(allocate: false) }),
        ("fd_filestat_set_times", [.i32, .i64, .i64, .i32], { try $0.onFile(stdio: .notSupported, mutates: true) }),
        ("fd_pread", [.i32, .i32, .i32, .i64, .i32], { try $0.positioned(write: false) }),
        ("fd_prestat_dir_name", [.i32, .i32, .i32], { try $0.prestatName() }),
        ("fd_prestat_get", [.i32, .i32], { try $0.prestat() }),
        ("fd_pwrite", [.i32, .i32, .i32, .i64, .i32], { try $0.positioned(write: true) }),
        ("fd_read", [.i32, .i32, .i32, .i32], { try $0.read() }),
        ("fd_readdir", [.i32, .i32, .i32, .i64, .i32], { try $0.readdir() }),
        ("fd_renumber", [.i32, .i32], { try $0.renumber() }),
        ("fd_seek", [.i32, .i64, .i32, .i32], { try $0.offset(result: 3) }),
        ("fd_sync", [.i32], { try $0.onFile(stdio: .invalid) }),
        ("fd_tell", [.i32, .i32], { try $0.offset(result: 1) }),
        ("fd_write", [.i32, .i32, .i32, .i32], { try $0.write() }),
        ("path_create_directory", [.i32, .i32, .i32], { try $0.onPath(mutates: true, createsEntry: true) }),
        ("path_filestat_get", [.i32, .i32, .i32, .i32, .i32], { try $0.pathFilestat() }),
        (
            "path_filestat_set_times", [.i32, .i32, .i32, .i32, .i64, .i64, .i32],
            { try $0.onPath(at: 2, mutates: true) }
        ),
        ("path_link", [.i32, .i32, .i32, .i32, .i32, .i32, .i32], { try $0.link() }),
        ("path_open", [.i32, .i32, .i32, .i32, .i32, .i64, .i64, .i32, .i32], { try $0.open() }),
        ("path_readlink", [.i32, .i32, .i32, .i32, .i32, .i32], { try $0.readlink() }),
        ("path_remove_directory", [.i32, .i32, .i32], { try $0.onPath(mutates: true) }),
        ("path_rename", [.i32, .i32, .i32, .i32, .i32, .i32], { try $0.rename() }),
        ("path_symlink", [.i32, .i32, .i32, .i32, .i32], { try $0.symlink() }),
        ("path_unlink_file", [.i32, .i32, .i32], { try $0.onPath(mutates: true) }),
        ("poll_oneoff", [.i32, .i32, .i32, .i32], { try $0.poll() }),
        ("proc_exit", [.i32], { try $0.forward() }),
        ("proc_raise", [.i32], { _ in WASIGuardErrno.noSystem.code }),
        ("random_get", [.i32, .i32], { try $0.random() }),
        ("sched_yield", [], { _ in WASIGuardErrno.success.code }),
        ("sock_accept", [.i32, .i32, .i32], { _ in WASIGuardErrno.noSystem.code }),
        ("sock_recv", [.i32, .i32, .i32, .i32, .i32, .i32], { _ in WASIGuardErrno.noSystem.code }),
        ("sock_send", [.i32, .i32, .i32, .i32, .i32], { _ in WASIGuardErrno.noSystem.code }),
        ("sock_shutdown", [.i32, .i32], { try $0.onFile(stdio: .notSocket) }),
    ]
}

/// One run's guard state. Touched only on the run's thread, inside WASI calls.
final class WASIGuardRun {
    let hooks: WASIGuardHooks
    /// WasmKit's own implementations, called once a call has passed its guard.
    let wasmKit: [String: (Memory, [Value]) throws -> [Value]]
    private let readOnlyGuestPaths: Set<String>
    private var preopensFound = false
    /// Descriptors of read-only preopens and of everything opened below them.
    var readOnlyFds: Set<UInt32> = []
    /// Whether the guest has closed fd 0, 1 or 2.
    var stdioClosed = [false, false, false]
    var stdinOffset = 0
    /// (count, bytes) of the argument and environment tables, by the sizes function's name.
    var tableSizes: [String: (count: UInt32, bytes: UInt32)] = [:]
    private var scratchMemory: Memory?

    init(bridge: WASIBridgeToHost, readOnlyGuestPaths: Set<String>, hooks: WASIGuardHooks) {
        self.hooks = hooks
        self.readOnlyGuestPaths = Set(readOnlyGuestPaths.map(Self.normalized))
        wasmKit = bridge.hostFunctions(capabilities: WASICapability.all).mapValues { $0.implementation }
    }

    /// A one-page memory of the guard's own, for asking WasmKit what it would otherwise
    /// write into the guest (preopen names, table sizes), and for the few pointer-free calls
    /// of a guest that exports no memory. Made on first need: most runs never need it.
    func scratch(_ store: Store) throws -> Memory {
        if let scratchMemory { return scratchMemory }
        let memory = try Memory(store: store, type: MemoryType(min: 1, max: 1))
        scratchMemory = memory
        return memory
    }

    /// WasmKit's errno for `name` called with `arguments` on `memory`.
    /// WasmKit answers a path call on a descriptor that is not open with ENOTDIR; Wasmtime,
    /// and POSIX, with EBADF. Guests (and the sandbox's tests) see the same errno on both.
    func descriptorErrno(_ name: String, _ errno: UInt32, arguments: [Value], store: Store) throws -> UInt32 {
        guard errno == WASIGuardErrno.notDirectory.code, name.hasPrefix("path_") else { return errno }
        let descriptors = name == "path_rename" || name == "path_link" ? [0, 3] : name == "path_symlink" ? [2] : [0]
        let scratch = try scratch(store)
        for index in descriptors where index < arguments.count {
            if try callWasmKit("fd_fdstat_get", scratch, [arguments[index], .i32(0)])
                == WASIGuardErrno.badDescriptor.code
            {
                return WASIGuardErrno.badDescriptor.code
            }
        }
        return errno
    }

    func callWasmKit(_ name: String, _ memory: Memory, _ arguments: [Value]) throws -> UInt32 {
        guard let implementation = wasmKit[name] else { return WASIGuardErrno.noSystem.code }
        return try implementation(memory, arguments).first?.i32 ?? WASIGuardErrno.success.code
    }

    /// Marks the read-only preopens' descriptors, asking WasmKit for the name of each
    /// preopen from fd 3 up, as the guest would. Runs at the first WASI call, before the
    /// guest can close or renumber anything. If it throws (the scratch memory refused), the
    /// run ends with the error, and any later call would search again.
    func findReadOnlyPreopens(store: Store) throws {
        guard !preopensFound, !readOnlyGuestPaths.isEmpty else { return }
        let memory = try scratch(store)
        guard let view = WASIGuestMemory(memory) else { return }
        defer { preopensFound = true }
        for fd in UInt32(3)..<UInt32(3 + 65536) {
            guard try callWasmKit("fd_prestat_get", memory, [.i32(fd), .i32(0)]) == 0 else { break }
            let length = Int(view.load32(4))
            // A name too long for the scratch page cannot be compared: refuse writes.
            guard length <= view.limit - 8,
                try callWasmKit("fd_prestat_dir_name", memory, [.i32(fd), .i32(8), .i32(UInt32(length))]) == 0
            else {
                readOnlyFds.insert(fd)
                continue
            }
            let name = String(decoding: view.bytes(8, count: length), as: UTF8.self)
            if readOnlyGuestPaths.contains(Self.normalized(name)) { readOnlyFds.insert(fd) }
        }
    }

    private static func normalized(_ path: String) -> String {
        var path = Substring(path)
        while path.count > 1, path.hasSuffix("/") { path = path.dropLast() }
        return String(path)
    }

    /// Charges one created entry, runs `create`, and refunds the entry if it failed.
    func chargingEntry(_ create: () throws -> UInt32) throws -> UInt32 {
        guard hooks.takeEntry() else { throw WASIGuardErrno.noSpace }
        let errno: UInt32
        do { errno = try create() } catch {
            hooks.giveEntry()
            throw error
        }
        if errno != WASIGuardErrno.success.code { hooks.giveEntry() }
        return errno
    }
}

/// One WASI call: its arguments, the guest's memory, and the guards of each function.
struct WASIGuardCall {
    let name: String
    let run: WASIGuardRun
    let store: Store
    /// The guest's memory export, if it has one.
    let exported: Memory?
    let arguments: [Value]

    var hooks: WASIGuardHooks { run.hooks }
    func u32(_ index: Int) -> UInt32 { arguments[index].i32 }
    func u64(_ index: Int) -> UInt64 { arguments[index].i64 }

    /// The guest's memory, or `EFAULT` when it exports none (or an empty one): every
    /// pointer it passes is then outside memory.
    func memory() throws(WASIGuardErrno) -> WASIGuestMemory {
        guard let exported, let view = WASIGuestMemory(exported) else { throw .fault }
        return view
    }

    /// Hands the call, checked, to WasmKit's own implementation; returns its errno.
    func forward(_ arguments: [Value]? = nil) throws -> UInt32 {
        // Pointer-free calls of a guest without memory still need a `Memory` to pass.
        let memory = try exported ?? run.scratch(store)
        return try run.callWasmKit(name, memory, arguments ?? self.arguments)
    }

    /// Whether `fd` is one of the guard's stdio descriptors; `EBADF` when the guest
    /// closed it.
    func isStdio(_ fd: UInt32) throws(WASIGuardErrno) -> Bool {
        guard fd < 3 else { return false }
        guard !run.stdioClosed[Int(fd)] else { throw .badDescriptor }
        return true
    }

    func refuseReadOnly(_ fd: UInt32, with errno: WASIGuardErrno = .readOnly) throws(WASIGuardErrno) {
        guard !run.readOnlyFds.contains(fd) else { throw errno }
    }

    // MARK: Arguments and environment

    /// `args_sizes_get` / `environ_sizes_get`: two u32 results.
    func sizes() throws -> UInt32 {
        let memory = try memory()
        let (countSlot, bytesSlot) = (u32(0), u32(1))
        try memory.check(countSlot, count: 4)
        try memory.check(bytesSlot, count: 4)
        let errno = try forward()
        // Remembered for the table call that follows; unreadable if the slots overlap.
        if errno == 0, countSlot.distance(to: bytesSlot).magnitude >= 4 {
            run.tableSizes[name] = (memory.load32(Int(countSlot)), memory.load32(Int(bytesSlot)))
        }
        return errno
    }

    /// `args_get` / `environ_get`: the pointer table and the strings, whose sizes come
    /// from `sizes` (asked of WasmKit on the scratch memory if the guest never did).
    func stringTable(sizes: String) throws -> UInt32 {
        let memory = try memory()
        let table: (count: UInt32, bytes: UInt32)
        if let known = run.tableSizes[sizes] {
            table = known
        } else {
            let scratch = try run.scratch(store)
            guard try run.callWasmKit(sizes, scratch, [.i32(0), .i32(4)]) == 0, let view = WASIGuestMemory(scratch)
            else { throw WASIGuardErrno.fault }
            table = (view.load32(0), view.load32(4))
            run.tableSizes[sizes] = table
        }
        try memory.check(u32(0), count: Int(table.count) * 4)
        try memory.check(u32(1), count: Int(table.bytes))
        return try forward()
    }

    // MARK: Clocks

    /// `clock_res_get(id, result)` and `clock_time_get(id, precision, result)`, from the
    /// hooks' clocks: the monotonic clock counts from the run's start.
    func clock(resolution: Bool, result: Int) throws -> UInt32 {
        let memory = try memory()
        try memory.check(u32(result), count: 8)
        let value: UInt64
        switch u32(0) {
        case 0: value = resolution ? 1 : hooks.wallNow()
        case 1:
            let now = hooks.now()
            value = resolution ? 1 : (now > hooks.started ? now - hooks.started : 0)
        case 2, 3: throw WASIGuardErrno.notSupported
        default: throw WASIGuardErrno.invalid
        }
        memory.store64(value, at: Int(u32(result)))
        return 0
    }

    // MARK: Descriptors

    /// A pointer-free call on descriptor argument 0: `stdio` answers for fds 0-2 (success
    /// meaning the call is accepted and ignored), and `mutates` refuses it on read-only fds.
    func onFile(stdio: WASIGuardErrno, mutates: Bool = false) throws -> UInt32 {
        let fd = u32(0)
        if try isStdio(fd) { return stdio.code }
        if mutates { try refuseReadOnly(fd) }
        return try forward()
    }

    func close() throws -> UInt32 {
        let fd = u32(0)
        if try isStdio(fd) {
            run.stdioClosed[Int(fd)] = true
            return 0
        }
        let errno = try forward()
        if errno == 0 { run.readOnlyFds.remove(fd) }
        return errno
    }

    func renumber() throws -> UInt32 {
        let (from, to) = (u32(0), u32(1))
        // Moving a file onto stdio (or stdio away) would mix the guard's stdio with
        // WasmKit's table.
        if try isStdio(from) || isStdio(to) { throw WASIGuardErrno.notSupported }
        let errno = try forward()
        if errno == 0, from != to {
            if run.readOnlyFds.remove(from) != nil {
                run.readOnlyFds.insert(to)
            } else {
                run.readOnlyFds.remove(to)
            }
        }
        return errno
    }

    /// `fd_fdstat_get(fd, result)`: stdio is a non-tty stream (filetype unknown), so
    /// wasi-libc buffers it fully and no guest takes stdin for a terminal.
    func fdstat() throws -> UInt32 {
        let memory = try memory()
        let (fd, result) = (u32(0), Int(u32(1)))
        try memory.check(u32(1), count: 24)
        guard try isStdio(fd) else { return try forward() }
        let fdRead: UInt64 = 1 << 1
        let fdWrite: UInt64 = 1 << 6
        let pollReadWrite: UInt64 = 1 << 27
        memory.zero(result, count: 24)
        memory.store64((fd == 0 ? fdRead : fdWrite) | pollReadWrite, at: result + 8)
        return 0
    }

    /// `fd_filestat_get(fd, result)`: stdio has an all-zero filestat (type unknown).
    func filestat() throws -> UInt32 {
        let memory = try memory()
        try memory.check(u32(1), count: 64)
        guard try isStdio(u32(0)) else { return try forward() }
        memory.zero(Int(u32(1)), count: 64)
        return 0
    }

    func prestat() throws -> UInt32 {
        let memory = try memory()
        try memory.check(u32(1), count: 8)
        if try isStdio(u32(0)) { throw WASIGuardErrno.badDescriptor }
        return try forward()
    }

    func prestatName() throws -> UInt32 {
        let memory = try memory()
        // WasmKit writes at most the declared length, and only when the name fits.
        try memory.check(u32(1), length: u32(2))
        if try isStdio(u32(0)) { throw WASIGuardErrno.badDescriptor }
        return try forward()
    }

    /// `fd_seek(fd, offset, whence, result)` / `fd_tell(fd, result)`: a u64 result.
    func offset(result: Int) throws -> UInt32 {
        let memory = try memory()
        try memory.check(u32(result), count: 8)
        if try isStdio(u32(0)) { throw WASIGuardErrno.invalidSeek }
        return try forward()
    }

    /// `fd_allocate(fd, offset, length)` / `fd_filestat_set_size(fd, size)`: the size the
    /// file may grow to is charged in full (it may all be new) and given back on failure.
    func resize(allocate: Bool) throws -> UInt32 {
        let fd = u32(0)
        if try isStdio(fd) { throw allocate ? WASIGuardErrno.invalidSeek : WASIGuardErrno.invalid }
        try refuseReadOnly(fd)
        // Both are 64-bit guest values, read signed as the Wasmtime backend reads them:
        // their sum may overflow, and a negative size is invalid.
        let first = Int64(bitPattern: u64(1))
        let (size, overflow) = allocate ? first.addingReportingOverflow(Int64(bitPattern: u64(2))) : (first, false)
        guard !overflow, first >= 0, size >= 0, let bytes = Int(exactly: size) else {
            throw WASIGuardErrno.invalid
        }
        guard hooks.takeBytes(bytes) else { throw WASIGuardErrno.noSpace }
        let errno: UInt32
        do { errno = try forward() } catch {
            hooks.giveBytes(bytes)
            throw error
        }
        if errno != 0 { hooks.giveBytes(bytes) }
        return errno
    }

    // MARK: Reads and writes

    /// `fd_write(fd, iovecs, count, result)`.
    func write() throws -> UInt32 {
        let memory = try memory()
        let (fd, result) = (u32(0), u32(3))
        let (buffers, total) = try memory.iovecs(at: u32(1), count: u32(2))
        try memory.check(result, count: 4)
        if try isStdio(fd) {
            guard fd != 0 else { throw WASIGuardErrno.badDescriptor }
            for (address, length) in buffers where length > 0 {
                memory.withBytes(Int(address), count: Int(length)) { hooks.write($0, fd == 2) }
                try hooks.checkpoint()
            }
            memory.store32(UInt32(total), at: Int(result))
            return 0
        }
        try refuseReadOnly(fd, with: .badDescriptor)
        return try chargingWrite(total, result: result, memory: memory)
    }

    /// `fd_read(fd, iovecs, count, result)`; fd 0 reads the run's stdin.
    func read() throws -> UInt32 {
        let memory = try memory()
        let (fd, result) = (u32(0), u32(3))
        let (buffers, _) = try memory.iovecs(at: u32(1), count: u32(2))
        try memory.check(result, count: 4)
        guard try isStdio(fd) else { return try forward() }
        guard fd == 0 else { throw WASIGuardErrno.badDescriptor }
        let stdin = hooks.stdin
        var total = 0
        for (address, length) in buffers where run.stdinOffset < stdin.count {
            let taken = min(Int(length), stdin.count - run.stdinOffset)
            memory.write(stdin[run.stdinOffset..<run.stdinOffset + taken], at: Int(address))
            run.stdinOffset += taken
            total += taken
        }
        memory.store32(UInt32(total), at: Int(result))
        return 0
    }

    /// `fd_pread` / `fd_pwrite(fd, iovecs, count, offset, result)`.
    func positioned(write: Bool) throws -> UInt32 {
        let memory = try memory()
        let (fd, result) = (u32(0), u32(4))
        let (_, total) = try memory.iovecs(at: u32(1), count: u32(2))
        try memory.check(result, count: 4)
        if try isStdio(fd) { throw WASIGuardErrno.invalidSeek }
        // WasmKit adds the bytes moved to the offset in Int64, which must not overflow.
        guard u64(3) <= UInt64(Int64.max) - UInt64(total) else { throw WASIGuardErrno.invalid }
        guard write else { return try forward() }
        try refuseReadOnly(fd, with: .badDescriptor)
        return try chargingWrite(total, result: result, memory: memory)
    }

    /// Charges a write's total before it, and gives back what was not written.
    private func chargingWrite(_ requested: Int, result: UInt32, memory: WASIGuestMemory) throws -> UInt32 {
        guard hooks.takeBytes(requested) else { throw WASIGuardErrno.noSpace }
        let errno: UInt32
        do { errno = try forward() } catch {
            hooks.giveBytes(requested)
            throw error
        }
        let written = errno == 0 ? Int(memory.load32(Int(result))) : 0
        hooks.giveBytes(requested - min(written, requested))
        return errno
    }

    /// `fd_readdir(fd, buffer, length, cookie, result)`.
    ///
    /// WasmKit writes a directory entry's header field by field even when only part of it
    /// fits, up to 7 bytes past the end of the guest's buffer: into the guest's neighbouring
    /// data, or past the end of memory, where the host would die. So WasmKit is given the
    /// same length at an address that leaves 7 bytes inside memory (the buffer itself, or
    /// shifted down by the few bytes memory lacks after it); the result goes to those 7
    /// bytes; then the entries are moved into place and every byte around the buffer is
    /// restored, so the guest sees exactly its buffer and result written.
    func readdir() throws -> UInt32 {
        let memory = try memory()
        let (fd, buffer, length, result) = (u32(0), u32(1), u32(2), u32(4))
        try memory.check(buffer, length: length)
        try memory.check(result, count: 4)
        if try isStdio(fd) { throw WASIGuardErrno.notDirectory }
        let overrun = 7
        let end = Int(buffer) + Int(length)
        let after = min(overrun, memory.limit - end)
        let shift = overrun - after
        guard Int(buffer) >= shift else { throw WASIGuardErrno.fault }
        let start = Int(buffer) - shift
        let savedBefore = memory.bytes(start, count: shift)
        let savedAfter = memory.bytes(end, count: after)
        // WasmKit's result slot: inside the 7 bytes it may overrun, all rewritten below.
        let slot = end - shift
        var moved = arguments
        moved[1] = .i32(UInt32(start))
        moved[4] = .i32(UInt32(slot))
        let errno = try forward(moved)
        let used = errno == 0 ? memory.load32(slot) : 0
        memory.move(from: start, to: Int(buffer), count: min(Int(used), Int(length)))
        memory.write(savedBefore, at: start)
        memory.write(savedAfter, at: end)
        if errno == 0 { memory.store32(used, at: Int(result)) }
        return errno
    }

    // MARK: Paths

    /// A call on one path at arguments (`at`, `at` + 1) below directory argument 0.
    func onPath(at path: Int = 1, mutates: Bool, createsEntry: Bool = false) throws -> UInt32 {
        let memory = try memory()
        try memory.checkPath(u32(path), length: u32(path + 1))
        if mutates { try refuseReadOnly(u32(0)) }
        guard createsEntry else { return try forward() }
        return try run.chargingEntry { try forward() }
    }

    func pathFilestat() throws -> UInt32 {
        let memory = try memory()
        try memory.checkPath(u32(2), length: u32(3))
        try memory.check(u32(4), count: 64)
        return try forward()
    }

    /// `path_readlink(fd, path, length, buffer, capacity, result)`: WasmKit writes at most
    /// the capacity.
    func readlink() throws -> UInt32 {
        let memory = try memory()
        try memory.checkPath(u32(1), length: u32(2))
        try memory.check(u32(3), length: u32(4))
        try memory.check(u32(5), count: 4)
        return try forward()
    }

    /// `path_rename(fd, path, length, newFd, newPath, newLength)`: refused when either
    /// directory is read-only.
    func rename() throws -> UInt32 {
        let memory = try memory()
        try memory.checkPath(u32(1), length: u32(2))
        try memory.checkPath(u32(4), length: u32(5))
        try refuseReadOnly(u32(0))
        try refuseReadOnly(u32(3))
        return try forward()
    }

    /// `path_link(oldFd, flags, oldPath, oldLength, newFd, newPath, newLength)`: refused
    /// from a read-only directory too, as a second name for a read-only file would be a
    /// writable one.
    func link() throws -> UInt32 {
        let memory = try memory()
        try memory.checkPath(u32(2), length: u32(3))
        try memory.checkPath(u32(5), length: u32(6))
        try refuseReadOnly(u32(0))
        try refuseReadOnly(u32(4))
        return try run.chargingEntry { try forward() }
    }

    /// `path_symlink(target, targetLength, fd, path, length)`.
    func symlink() throws -> UInt32 {
        let memory = try memory()
        let (target, targetLength, path, pathLength) = (u32(0), u32(1), u32(3), u32(4))
        try memory.checkPath(target, length: targetLength)
        try memory.checkPath(path, length: pathLength)
        try refuseReadOnly(u32(2))
        // WasmKit never follows a link out of a preopen, but whoever reads the directory on
        // the host later would: the target must only go down.
        guard linkPointsDown(target: memory.bytes(Int(target), count: Int(targetLength))) else {
            throw WASIGuardErrno.notPermitted
        }
        return try run.chargingEntry { try forward() }
    }

    /// `path_open(fd, dirflags, path, length, oflags, rightsBase, rightsInheriting,
    /// fdflags, result)`.
    func open() throws -> UInt32 {
        let memory = try memory()
        let (fd, oflags, rights, result) = (u32(0), u32(4), u64(5), u32(8))
        try memory.checkPath(u32(2), length: u32(3))
        try memory.check(result, count: 4)
        let create: UInt32 = 1
        let exclusive: UInt32 = 4
        let truncate: UInt32 = 8
        // FD_DATASYNC, FD_WRITE, FD_ALLOCATE, FD_FILESTAT_SET_SIZE: what wasi-libc, Rust and
        // Go ask for exactly when opening for writing.
        let writeRights: UInt64 = 1 << 0 | 1 << 6 | 1 << 8 | 1 << 22
        let readOnly = run.readOnlyFds.contains(fd)
        if readOnly, oflags & (create | exclusive | truncate) != 0 || rights & writeRights != 0 {
            throw WASIGuardErrno.readOnly
        }
        try refuseUnopenable(fd: fd, lookupFlags: u32(1), path: u32(2), length: u32(3), in: memory)
        func opened(_ errno: UInt32) -> UInt32 {
            guard errno == 0 else { return errno }
            let newFd = memory.load32(Int(result))
            if readOnly { run.readOnlyFds.insert(newFd) } else { run.readOnlyFds.remove(newFd) }
            return errno
        }
        guard oflags & create != 0 else { return opened(try forward()) }
        // Opening a file that exists creates nothing: try that first, and charge an entry
        // only when the file is missing (or must be new).
        if oflags & exclusive == 0 {
            var existing = arguments
            existing[4] = .i32(oflags & ~create)
            let errno = try forward(existing)
            if errno != WASIGuardErrno.noEntry.code { return opened(errno) }
        }
        return opened(try run.chargingEntry { try forward() })
    }

    /// `ENOTSUP` for a path naming a file that is not ``OpenableFiles`` (a FIFO's open would
    /// block past the deadline); WasmKit's `path_filestat_get` answers on the scratch page. A
    /// path that cannot be stat'ed is left for `path_open` to report.
    private func refuseUnopenable(
        fd: UInt32, lookupFlags: UInt32, path: UInt32, length: UInt32, in memory: WASIGuestMemory
    )
        throws
    {
        let scratch = try run.scratch(store)
        let pathOffset = OpenableFiles.filestatSize
        guard Int(length) <= scratch.byteCount - pathOffset else { return }
        let bytes = memory.bytes(Int(path), count: Int(length))
        scratch.withUnsafeMutableBufferPointer(offset: UInt(pathOffset), count: bytes.count) { target in
            bytes.withUnsafeBytes { target.copyMemory(from: $0) }
        }
        let errno = try run.callWasmKit(
            "path_filestat_get", scratch,
            [.i32(fd), .i32(lookupFlags), .i32(UInt32(pathOffset)), .i32(length), .i32(0)])
        guard errno == WASIGuardErrno.success.code else { return }
        let fileType = scratch.withUnsafeMutableBufferPointer(offset: UInt(OpenableFiles.fileTypeOffset), count: 1) {
            $0[0]
        }
        guard OpenableFiles.allows(fileType: fileType) else { throw WASIGuardErrno.notSupported }
    }

    // MARK: Random

    /// `random_get(buffer, length)`, a chunk at a time with a checkpoint between: a guest
    /// asking for a gigabyte cannot hold its thread past the deadline.
    func random() throws -> UInt32 {
        let memory = try memory()
        let (buffer, length) = (u32(0), u32(1))
        try memory.check(buffer, length: length)
        var done: UInt32 = 0
        while done < length {
            if done > 0 { try hooks.checkpoint() }
            let chunk = min(WASIGuardLimits.randomChunk, length - done)
            let errno = try forward([.i32(buffer + done), .i32(chunk)])
            guard errno == 0 else { return errno }
            done += chunk
        }
        return 0
    }
}
