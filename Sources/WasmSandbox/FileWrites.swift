import Wasmtime

/// The sandbox's own layer over the WASI functions that write files or create entries, so
/// that a run's file quota (``ExecutionLimits/workspaceBytes`` and
/// ``ExecutionLimits/workspaceEntries``) is enforced exactly, at the call that would cross it.
///
/// Wasmtime writes the files itself, and a host function cannot call Wasmtime's WASI
/// implementation directly (it finds the guest's memory through the calling instance). So
/// each run with writable directories gets a tiny forwarder instance in its store that
/// imports the guest's memory and Wasmtime's own functions and re-exports them. The
/// shadows here charge the quota, call the forwarder, and refund what was not written.
/// A call that would cross the quota fails with `ENOSPC` and nothing is written.
///
/// The quota counts every byte written to a file (overwrites too), every byte a file is
/// extended to by `fd_allocate` or `fd_filestat_set_size`, and every file, directory or
/// link created; deletions give nothing back. It therefore also bounds data a guest hides
/// in unlinked files or in directories nested beyond `PATH_MAX`.
enum FileWrites {
    /// The WASI functions behind the quota and their parameters.
    static let forwarded: [(name: String, parameters: [ValueType])] = [
        ("fd_write", [.i32, .i32, .i32, .i32]),
        ("fd_pwrite", [.i32, .i32, .i32, .i64, .i32]),
        ("fd_allocate", [.i32, .i64, .i64]),
        ("fd_filestat_set_size", [.i32, .i64]),
        ("path_open", [.i32, .i32, .i32, .i32, .i32, .i64, .i64, .i32, .i32]),
        ("path_create_directory", [.i32, .i32, .i32]),
        ("path_symlink", [.i32, .i32, .i32, .i32, .i32]),
        ("path_link", [.i32, .i32, .i32, .i32, .i32, .i32, .i32]),
        // Not charged: forwarded so that a session call's stdin can be served (see StdinBytes).
        ("fd_read", [.i32, .i32, .i32, .i32]),
        // Not charged: asked before `path_open` what kind of file it would open.
        ("path_filestat_get", [.i32, .i32, .i32, .i32, .i32]),
    ]
    private static let filestatIndex = forwarded.count - 1

    private static let createFlag = 1
    private static let exclusiveFlag = 4

    /// The forwarder module: imports the guest's memory (exported again as `memory`, where
    /// WASI looks for it) and each forwarded function, and exports a function that calls it.
    static var forwarderText: String {
        func types(_ parameters: [ValueType]) -> String {
            parameters.map { $0 == .i64 ? "i64" : "i32" }.joined(separator: " ")
        }
        var text = "(module\n  (import \"sandbox\" \"memory\" (memory 0))\n"
        for (index, function) in forwarded.enumerated() {
            text +=
                "  (import \"wasi_snapshot_preview1\" \"\(function.name)\" (func $f\(index) (param \(types(function.parameters))) (result i32)))\n"
        }
        text += "  (export \"memory\" (memory 0))\n"
        for (index, function) in forwarded.enumerated() {
            let locals = function.parameters.indices.map { "(local.get \($0))" }.joined(separator: " ")
            text +=
                "  (func (export \"\(function.name)\") (param \(types(function.parameters))) (result i32) (call $f\(index) \(locals)))\n"
        }
        return text + ")"
    }

    /// Defines the charging shadows on a linker whose runs may write files.
    static func define(on linker: inout LinkerBuilder<RunState>) throws(WasmtimeError) {
        for (index, function) in forwarded.enumerated() {
            try linker.shadowWASI(function.name, parameters: function.parameters) { caller, run, arguments in
                if index == 0, let errno = try DirectOutput.write(caller: caller, run: run, arguments: arguments) {
                    return errno
                }
                if function.name == "fd_read", let stdin = run.stdin, try arguments.integer(at: 0) == 0 {
                    return try read(stdin, caller: caller, arguments: arguments)
                }
                guard let target = (run.files.forwarder as? [Function])?[index] else { return WASIErrno.notCapable }
                // File writes make system calls and a call into Wasm: next to those, a copy of
                // the arguments is noise, and the rules below read best over an array.
                let arguments = try (0..<arguments.count).map { position throws(WasmtimeError) in
                    try arguments.integer(at: position)
                }
                if function.name == "path_open",
                    let refused = try refuseUnopenable(
                        arguments, caller: caller, stat: (run.files.forwarder as? [Function])?[filestatIndex])
                {
                    return refused
                }
                return try charge(function.name, arguments, caller: caller, quota: run.files) { arguments in
                    let values = zip(function.parameters, arguments).map { type, value in
                        type == .i64 ? Value.i64(Int64(value)) : Value.i32(Int32(truncatingIfNeeded: value))
                    }
                    guard case .i32(let errno)? = try caller.call(target, values, resultCount: 1).first else {
                        throw SandboxError("\(function.name) returned no errno")
                    }
                    return errno
                }
            }
        }
    }

    /// Charges one call to the quota, makes it through `forward`, and refunds what it did
    /// not use.
    private static func charge(
        _ name: String, _ arguments: [Int], caller: Caller<RunState>, quota: FileQuota, forward: ([Int]) throws -> Int32
    ) throws -> Int32 {
        switch name {
        case "fd_write", "fd_pwrite":
            let resultAddress = arguments[arguments.count - 1]
            guard
                let requested = try caller.withMemory({
                    DirectOutput.totalLength(of: arguments[1], count: arguments[2], in: UnsafeRawBufferPointer($0))
                })
            else { return arguments[2] > HostCallBounds.maxIOVecs ? WASIErrno.invalid : WASIErrno.fault }
            guard quota.take(bytes: requested) else { return WASIErrno.noSpace }
            let errno = try forward(arguments)
            let written =
                errno == WASIErrno.success
                ? try caller.withMemory { memory in
                    resultAddress + 4 <= memory.count
                        ? Int(memory.loadUnaligned(fromByteOffset: resultAddress, as: UInt32.self)) : requested
                } : 0
            quota.give(bytes: requested - min(written, requested))
            return errno
        case "fd_allocate", "fd_filestat_set_size":
            // The size a file may be extended to: charged in full, as it may all be new, and
            // given back when the call fails.
            // Both are 64-bit values from the guest: their sum may overflow.
            let (size, overflow) =
                name == "fd_allocate" ? arguments[1].addingReportingOverflow(arguments[2]) : (arguments[1], false)
            guard !overflow, arguments[1] >= 0, size >= 0 else { return WASIErrno.invalid }
            guard quota.take(bytes: size) else { return WASIErrno.noSpace }
            let errno = try forward(arguments)
            if errno != WASIErrno.success { quota.give(bytes: size) }
            return errno
        case "path_symlink":
            // Wasmtime never follows a link out of a directory it was given, but whoever reads
            // a mount on the host later would: the target must only go down.
            let (target, targetLength) = (arguments[0], arguments[1])
            let staysInside = try caller.withMemory { memory -> Bool? in
                guard targetLength <= pathLimit, target + targetLength <= memory.count else { return nil }
                return linkPointsDown(target: Array(UnsafeRawBufferPointer(memory)[target..<target + targetLength]))
            }
            guard let staysInside else { return WASIErrno.fault }
            guard staysInside else { return WASIErrno.notPermitted }
            return try createEntry(quota: quota) { try forward(arguments) }
        case "path_open" where arguments[4] & createFlag != 0:
            // Opening a file that exists creates nothing: try that first, and charge an entry
            // only when the file is missing (or must be new).
            if arguments[4] & exclusiveFlag == 0 {
                var existing = arguments
                existing[4] &= ~createFlag
                let errno = try forward(existing)
                if errno != WASIErrno.noEntry { return errno }
            }
            return try createEntry(quota: quota) { try forward(arguments) }
        case "path_open", "fd_read", "path_filestat_get":
            return try forward(arguments)
        default:
            return try createEntry(quota: quota) { try forward(arguments) }
        }
    }

    /// `ENOTSUP` when `path_open(fd, lookupFlags, path, length, …)` names a file that is
    /// not ``OpenableFiles``, nil to go on. Wasmtime's own `path_filestat_get` answers, writing
    /// its 64 bytes at the start of the guest's memory, which are put back at once (the guest
    /// waits in this call; Wasmtime reads the path before it writes). A path that cannot be
    /// stat'ed is left for `path_open` to report.
    private static func refuseUnopenable(_ arguments: [Int], caller: Caller<RunState>, stat: Function?) throws
        -> Int32?
    {
        guard let stat,
            let saved = try caller.withMemory({ memory in
                memory.count >= OpenableFiles.filestatSize ? Array(memory[0..<OpenableFiles.filestatSize]) : nil
            })
        else { return nil }
        defer { _ = try? caller.withMemory { memory in memory.copyBytes(from: saved) } }
        let values = arguments[0..<4].map { Value.i32(Int32(truncatingIfNeeded: $0)) } + [.i32(0)]
        guard case .i32(WASIErrno.success)? = try caller.call(stat, values, resultCount: 1).first else { return nil }
        let fileType = try caller.withMemory { $0[OpenableFiles.fileTypeOffset] }
        return OpenableFiles.allows(fileType: fileType) ? nil : OpenableFiles.refusal
    }

    /// `fd_read(0, iovecs, count, result)` from a session call's stdin.
    private static func read(_ stdin: StdinBytes, caller: Caller<RunState>, arguments: HostArguments) throws -> Int32 {
        let (base, count, resultAddress) = (
            try arguments.integer(at: 1), try arguments.integer(at: 2), try arguments.integer(at: 3)
        )
        return try caller.withMemory { memory -> Int32 in
            guard DirectOutput.totalLength(of: base, count: count, in: UnsafeRawBufferPointer(memory)) != nil,
                resultAddress + 4 <= memory.count
            else { return count > HostCallBounds.maxIOVecs ? WASIErrno.invalid : WASIErrno.fault }
            var total = 0
            for index in 0..<count where stdin.offset < stdin.bytes.count {
                let address = Int(memory.loadUnaligned(fromByteOffset: base + index * 8, as: UInt32.self))
                let length = Int(memory.loadUnaligned(fromByteOffset: base + index * 8 + 4, as: UInt32.self))
                let taken = min(length, stdin.bytes.count - stdin.offset)
                stdin.bytes.withUnsafeBytes { bytes in
                    memory.baseAddress!.advanced(by: address).copyMemory(
                        from: bytes.baseAddress!.advanced(by: stdin.offset), byteCount: taken)
                }
                stdin.offset += taken
                total += taken
            }
            memory.storeBytes(of: UInt32(total), toByteOffset: resultAddress, as: UInt32.self)
            return WASIErrno.success
        }
    }

    private static func createEntry(quota: FileQuota, _ create: () throws -> Int32) throws -> Int32 {
        guard quota.takeEntry() else { return WASIErrno.noSpace }
        let errno = try create()
        if errno != WASIErrno.success { quota.giveEntry() }
        return errno
    }

    /// The longest link target or path the sandbox reads for a check.
    private static let pathLimit = 4096

    /// Instantiates the forwarder for a guest instance and hands its functions to the run.
    /// A guest without an exported memory cannot pass WASI any buffer, so it gets none.
    static func attach(
        to run: RunState, guest: Instance<RunState>, forwarder module: Module, wasi: Linker<RunState>,
        store: Store<RunState>
    ) throws(WasmtimeError) {
        guard case .memory(let memory)? = guest.export("memory") else { return }
        var imports: [Extern] = [.memory(memory)]
        for function in forwarded {
            guard let original = wasi.get(module: "wasi_snapshot_preview1", name: function.name, in: store) else {
                throw WasmtimeError.error(message: "WASI defines no \(function.name)")
            }
            imports.append(original)
        }
        let forwarder = try Instance(store: store, module: module, imports: imports)
        run.files.forwarder = forwarded.map { function in
            guard case .function(let export)? = forwarder.export(function.name) else {
                fatalError("the forwarder module exports every forwarded function")
            }
            return export
        }
    }
}
