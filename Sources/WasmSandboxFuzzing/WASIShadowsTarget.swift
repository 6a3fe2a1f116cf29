import Foundation
import WasmSandbox

#if canImport(Glibc)
    import Glibc
#endif

extension FuzzTarget {
    /// The sandbox's own WASI functions (`fd_write`, `poll_oneoff`, `random_get` and the
    /// file-quota layer), called by a real guest with arguments and memory from the input.
    ///
    /// Input: a flags byte (bit 0: give the run a workspace, so that the quota layer is in
    /// place; bits 1-2: number of calls less one), then per call a byte choosing the
    /// function followed by its arguments (4 little-endian bytes per `i32`, 8 per `i64`),
    /// then the guest's first memory page. The guest (one module; the program comes on
    /// stdin) makes the calls, writes that page to
    /// stdout and exits with the last errno. Whatever it asks, the run must end in a
    /// guest-side status (never `internal_error`), the host must survive, the calls must
    /// have changed no byte of the page outside their output parameters, and the workspace
    /// must hold no more written bytes than the quota.
    public static let wasiShadows = FuzzTarget(name: "wasi-shadows") { data in
        WASIShadowsFuzzing.check(WASIShadowsFuzzing.Program(data))
    }
}

enum WASIShadowsFuzzing {
    /// The functions a program may call, with their WASI preview 1 parameter types.
    static let functions: [(name: String, parameters: [String])] = [
        ("fd_write", ["i32", "i32", "i32", "i32"]),
        ("poll_oneoff", ["i32", "i32", "i32", "i32"]),
        ("random_get", ["i32", "i32"]),
        ("fd_pwrite", ["i32", "i32", "i32", "i64", "i32"]),
        ("fd_allocate", ["i32", "i64", "i64"]),
        ("fd_filestat_set_size", ["i32", "i64"]),
        ("path_open", ["i32", "i32", "i32", "i32", "i32", "i64", "i64", "i32", "i32"]),
        ("path_create_directory", ["i32", "i32", "i32"]),
        ("path_symlink", ["i32", "i32", "i32", "i32", "i32"]),
        ("path_link", ["i32", "i32", "i32", "i32", "i32", "i32", "i32"]),
        // Not shadowed, but it moves the file offset that the shadowed fd_write starts from.
        ("fd_seek", ["i32", "i64", "i32", "i32"]),
    ]
    static let pageSize = 65536
    /// The file quota every run with a workspace gets.
    static let quotaBytes = 4096
    static let quotaEntries = 8

    struct Call {
        var function: Int
        var arguments: [Int64]

        /// The memory the call may write: its output parameters, as WASI defines them.
        var outputs: [Range<Int>] {
            func at(_ index: Int, _ count: Int) -> Range<Int> {
                let address = Int(UInt32(truncatingIfNeeded: arguments[index]))
                return address..<address + count
            }
            switch functions[function].name {
            case "fd_write": return [at(3, 4)]
            case "fd_pwrite": return [at(4, 4)]
            case "path_open": return [at(8, 4)]
            case "fd_seek": return [at(3, 8)]
            case "random_get": return [at(0, Int(UInt32(truncatingIfNeeded: arguments[1])))]
            case "poll_oneoff":
                // Up to one 32-byte event per subscription, and the number of events.
                return [at(1, Int(UInt32(truncatingIfNeeded: arguments[2])) * 32), at(3, 4)]
            default: return []
            }
        }
    }

    struct Program {
        var workspace: Bool
        var calls: [Call] = []
        var memory: [UInt8]

        init(_ data: UnsafeRawBufferPointer) {
            var rest = data[...]
            func take(_ count: Int) -> UInt64 {
                let bytes = rest.prefix(count)
                rest = rest.dropFirst(count)
                return bytes.reversed().reduce(0) { $0 << 8 | UInt64($1) }
            }
            let flags = take(1)
            workspace = flags & 1 != 0
            for _ in 0...(flags >> 1 & 3) {
                let function = Int(take(1)) % functions.count
                let arguments = functions[function].parameters.map { type in
                    type == "i64" ? Int64(bitPattern: take(8)) : Int64(Int32(truncatingIfNeeded: take(4)))
                }
                calls.append(Call(function: function, arguments: arguments))
            }
            memory = Array(rest.prefix(pageSize))
        }

        /// What the guest reads on stdin: its first memory page, then per call the
        /// function's index and up to nine arguments, each as a little-endian `i64`.
        var stdin: [UInt8] {
            var bytes = memory + [UInt8](repeating: 0, count: pageSize - memory.count)
            for call in calls {
                let words =
                    [Int64(call.function)] + call.arguments + Array(repeating: 0, count: 9 - call.arguments.count)
                for word in words { withUnsafeBytes(of: word.littleEndian) { bytes.append(contentsOf: $0) } }
            }
            return bytes
        }
    }

    static let maxCalls = 4
    static let recordSize = 80

    /// The guest, the same for every input so that it is compiled once: it reads its first
    /// memory page and its calls from stdin, makes the calls, writes the page to stdout and
    /// exits with the last errno. The second page is its scratch space.
    ///
    /// The calls are copied into locals before the first is made, as a call may overwrite
    /// any memory, and the oracle must know what each call was asked.
    static let guest: String = {
        let calls = pageSize + 1024
        var text = "(module\n"
        for (index, function) in functions.enumerated() {
            let parameters = function.parameters.joined(separator: " ")
            text += "  (import \"wasi_snapshot_preview1\" \"\(function.name)\" "
            text += "(func $f\(index) (param \(parameters)) (result i32)))\n"
        }
        text += """
              (import "wasi_snapshot_preview1" "fd_read" (func $read (param i32 i32 i32 i32) (result i32)))
              (import "wasi_snapshot_preview1" "proc_exit" (func $exit (param i32)))
              (memory (export "memory") 2 2)
              ;; Reads stdin to [start, limit) through the iovec at the second page's start; returns the end.
              (func $fill (param $at i32) (param $limit i32) (result i32)
                (block $done (loop $more
                  (br_if $done (i32.ge_u (local.get $at) (local.get $limit)))
                  (i32.store (i32.const \(pageSize)) (local.get $at))
                  (i32.store (i32.const \(pageSize + 4)) (i32.sub (local.get $limit) (local.get $at)))
                  (br_if $done (call $read (i32.const 0) (i32.const \(pageSize)) (i32.const 1) (i32.const \(pageSize + 8))))
                  (br_if $done (i32.eqz (i32.load (i32.const \(pageSize + 8)))))
                  (local.set $at (i32.add (local.get $at) (i32.load (i32.const \(pageSize + 8)))))
                  (br $more)))
                (local.get $at))
              (func (export "_start") (local $errno i32) (local $count i32)

            """
        for slot in 0..<maxCalls {
            text += "    " + (0..<10).map { "(local $c\(slot)_\($0) i64)" }.joined(separator: " ") + "\n"
        }
        text += "    (drop (call $fill (i32.const 0) (i32.const \(pageSize))))\n"
        text += "    (local.set $count (i32.div_u (i32.sub (call $fill (i32.const \(calls)) "
        text += "(i32.const \(calls + maxCalls * recordSize))) (i32.const \(calls))) (i32.const \(recordSize))))\n"
        for slot in 0..<maxCalls {
            for word in 0..<10 {
                text +=
                    "    (local.set $c\(slot)_\(word) (i64.load (i32.const \(calls + slot * recordSize + word * 8))))\n"
            }
        }
        for slot in 0..<maxCalls {
            // Nested blocks, innermost first, so that br_table jumps to the code for the function.
            text += "    (if (i32.gt_u (local.get $count) (i32.const \(slot))) (then (block $call\(slot)\n"
            text +=
                "      " + functions.indices.reversed().map { "(block $s\(slot)_\($0)" }.joined(separator: " ") + "\n"
            let targets = functions.indices.map { "$s\(slot)_\($0)" }.joined(separator: " ")
            text += "      (br_table \(targets) (i32.wrap_i64 (local.get $c\(slot)_0))))\n"
            for (index, function) in functions.enumerated() {
                let arguments = function.parameters.enumerated().map { position, type in
                    type == "i64"
                        ? "(local.get $c\(slot)_\(position + 1))"
                        : "(i32.wrap_i64 (local.get $c\(slot)_\(position + 1)))"
                }
                text += "      (local.set $errno (call $f\(index) \(arguments.joined(separator: " "))))"
                text += index == functions.count - 1 ? ")))\n" : " (br $call\(slot)))\n"
            }
        }
        // The iovec is written after the calls, which may have changed the second page.
        text += "    (i32.store (i32.const \(pageSize)) (i32.const 0))\n"
        text += "    (i32.store (i32.const \(pageSize + 4)) (i32.const \(pageSize)))\n"
        text +=
            "    (drop (call $f0 (i32.const 1) (i32.const \(pageSize)) (i32.const 1) (i32.const \(pageSize + 8))))\n"
        return text + "    (call $exit (local.get $errno))))\n"
    }()

    /// One sandbox for all inputs, as a server has, without a disk cache so that the fuzzer
    /// leaves nothing behind; the guest is compiled in process, once.
    static let sandbox: Sandbox = {
        var configuration = SandboxConfiguration()
        configuration.diskCacheDirectory = nil
        configuration.compileIsolation = .inProcess
        configuration.moduleCacheCapacity = 4
        configuration.maxMemoryBytes = 4 << 20
        // Runs are blocking calls on the caller's thread (libFuzzer's, or a test's, which
        // may run several at once): a small Wasm stack stays well inside those threads' own.
        configuration.maxConcurrentExecutions = 8
        configuration.maxWasmStackBytes = 256 << 10
        do {
            return try Sandbox(configuration: configuration)
        } catch {
            fatalError("cannot create the fuzzing sandbox: \(error)")
        }
    }()

    static func check(_ program: Program) -> String? {
        let workspace: Workspace?
        do { workspace = program.workspace ? try Workspace() : nil } catch {
            return "cannot create a workspace: \(error)"
        }
        defer { workspace?.remove() }
        let result = run(program, workspace: workspace)
        if verbose {
            print(
                "wasi-shadows: \(result.status) in \(result.duration), exit \(result.exitCode.map(String.init) ?? "-"), stdout \(result.stdout.count) bytes: \(result.message ?? "")"
            )
        }
        return verify(program, result, workspace: workspace)
    }

    /// `WASM_SANDBOX_FUZZ_VERBOSE=1` prints how each run ended, to see what inputs reach.
    static let verbose = ProcessInfo.processInfo.environment["WASM_SANDBOX_FUZZ_VERBOSE"] == "1"

    static func run(_ program: Program, workspace: Workspace?) -> ExecutionResult {
        var request = ExecutionRequest(.wat(guest))
        request.stdin = program.stdin
        var limits = ExecutionLimits(
            timeout: .milliseconds(100), memoryBytes: 1 << 20, stdoutBytes: 1 << 20, stderrBytes: 1024)
        limits.workspaceBytes = quotaBytes
        limits.workspaceEntries = quotaEntries
        request.limits = limits
        request.workspace = workspace
        return sandbox.executeBlocking(request)
    }

    static func verify(_ program: Program, _ result: ExecutionResult, workspace: Workspace?) -> String? {
        switch result.status {
        case .internalError: return "internal_error: \(result.message ?? "")"
        // The module is ours, so refusing it is a fault of the sandbox (or of this harness).
        case .invalidInput: return "the generated module was refused: \(result.message ?? "")"
        default: break
        }
        // The page arrives when no call stopped the run (a stop, like a full stdout, is fine).
        if result.status == .ok || result.status == .exited, !result.stdoutTruncated, result.stdout.count >= pageSize {
            let page = result.stdout.suffix(pageSize)
            let before = program.memory + [UInt8](repeating: 0, count: pageSize - program.memory.count)
            let outputs = program.calls.flatMap(\.outputs)
            for address in changedBytes(before, page) where !outputs.contains(where: { $0.contains(address) }) {
                return "byte \(address) changed from \(before[address]) to \(page[page.startIndex + address]) "
                    + "outside every call's output parameters"
            }
        }
        if let workspace {
            let written = writtenBytes(below: workspace.directory.path)
            if written > quotaBytes { return "the workspace holds \(written) written bytes, over the quota" }
        }
        return nil
    }

    /// The offsets at which two pages differ. Compared by `memcmp` a block at a time: a
    /// byte loop, instrumented for the fuzzer, took most of each run's time.
    static func changedBytes(_ old: [UInt8], _ new: ArraySlice<UInt8>) -> [Int] {
        precondition(old.count == new.count)
        let block = 256
        return old.withUnsafeBytes { old in
            new.withUnsafeBytes { new in
                stride(from: 0, to: old.count, by: block).flatMap { start -> [Int] in
                    let count = min(block, old.count - start)
                    guard memcmp(old.baseAddress! + start, new.baseAddress! + start, count) != 0 else { return [] }
                    return (start..<start + count).filter { old[$0] != new[$0] }
                }
            }
        }
    }

    /// The non-zero bytes in the regular files below `path`, each file counted once however
    /// many links it has, links never followed. Every one of them was written by a call the
    /// quota charged (holes, extensions and allocations read as zeros), so their sum is
    /// bounded by the quota whatever the file sizes say.
    static func writtenBytes(below path: String) -> Int {
        var seen: Set<[UInt64]> = []
        var total = 0
        var pending = [path]
        while let directory = pending.popLast() {
            guard let names = try? FileManager.default.contentsOfDirectory(atPath: directory) else { continue }
            for name in names {
                let entry = directory + "/" + name
                var info = stat()
                guard lstat(entry, &info) == 0 else { continue }
                switch info.st_mode & S_IFMT {
                case S_IFDIR: pending.append(entry)
                case S_IFREG:
                    guard seen.insert([UInt64(info.st_dev), UInt64(info.st_ino)]).inserted else { continue }
                    total += nonZeroBytes(in: entry)
                default: continue
                }
            }
        }
        return total
    }

    // Linux's SEEK_DATA and SEEK_HOLE, which Glibc's module leaves out (they need _GNU_SOURCE).
    private static let seekData: Int32 = 3
    private static let seekHole: Int32 = 4

    /// The non-zero bytes of one file, reading its data extents only (a guest may leave
    /// huge holes). Stops early past the quota: any more would already be a failure.
    private static func nonZeroBytes(in path: String) -> Int {
        let fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC)
        guard fd >= 0 else { return 0 }
        defer { close(fd) }
        var buffer = [UInt8](repeating: 0, count: 65536)
        var count = 0
        var offset = lseek(fd, 0, seekData)
        while offset >= 0, count <= quotaBytes {
            let end = lseek(fd, offset, seekHole)
            guard end > offset else { break }
            while offset < end, count <= quotaBytes {
                let read = buffer.withUnsafeMutableBytes {
                    pread(fd, $0.baseAddress, min($0.count, Int(end - offset)), offset)
                }
                guard read > 0 else { return count }
                count += buffer[..<read].count(where: { $0 != 0 })
                offset += off_t(read)
            }
            offset = lseek(fd, end, seekData)
        }
        return count
    }
}
