import Foundation
import Synchronization
import Wasmtime

#if canImport(Glibc)
    import Glibc
#endif

/// Compiles untrusted modules in a short-lived helper process (`wasm-sandbox-compile`) under
/// a time and memory budget, and returns the serialized code.
///
/// Cranelift's cost is superlinear in some module shapes (a 21 KB module took 49 s and
/// 1.15 GB), and a compile cannot be interrupted in process. The helper caps its own address
/// space and CPU time; this side kills it at the wall-clock budget. Whatever it prints
/// comes back only as serialized code to this process's own engine, exactly as the disk
/// cache does, so the helper is as trusted as the cache directory: both are ours.
struct IsolatedCompiler: Sendable {
    /// The helper executable.
    let executable: URL
    let timeBudget: Duration
    let memoryBudget: Int

    enum Format: String, Sendable {
        case wasm, wat
    }

    /// Compiles `input` for an engine configured as `engine`.
    ///
    /// - Throws: ``SandboxError`` `invalid_input` for a bad module or one over budget,
    ///   `internal_error` when the helper cannot run.
    func compile(_ input: [UInt8], format: Format, engine: EngineConfiguration) throws(SandboxError) -> [UInt8] {
        let configuration: String
        do {
            configuration = String(decoding: try JSONEncoder().encode(engine), as: UTF8.self)
        } catch {
            throw SandboxError("cannot describe the engine to the compiler: \(error)", kind: .internalError)
        }
        // CPU time adds up over the helper's threads (it compiles functions in parallel).
        let cpuSeconds = (Int(timeBudget.components.seconds) + 1) * max(1, ProcessInfo.processInfo.activeProcessorCount)
        let arguments = [executable.path, configuration, format.rawValue, "\(memoryBudget)", "\(cpuSeconds)"]

        // The input goes in through an unlinked temporary file, so a helper that dies early
        // can never leave this process blocked on (or killed by) a pipe write.
        let stdin = try Self.temporaryFile(holding: input)
        defer { close(stdin) }
        let stderr = try Self.temporaryFile(holding: [])
        defer { close(stderr) }
        let (pid, readEnd) = try Self.spawn(arguments, stdin: stdin, stderr: stderr)
        defer { close(readEnd) }
        let deadline = MonotonicClock.now() + UInt64(timeBudget.nanoseconds)
        var output: [UInt8] = []
        var overBudget = false
        var buffer = [UInt8](repeating: 0, count: 1 << 16)
        while true {
            let now = MonotonicClock.now()
            guard now < deadline else {
                overBudget = true
                break
            }
            var poller = pollfd(fd: readEnd, events: Int16(POLLIN), revents: 0)
            let ready = poll(&poller, 1, Int32(min((deadline - now) / 1_000_000 + 1, 1000)))
            if ready < 0 && errno != EINTR { break }
            if ready <= 0 { continue }
            let count = buffer.withUnsafeMutableBytes { read(readEnd, $0.baseAddress, $0.count) }
            if count < 0 && errno == EINTR { continue }
            if count <= 0 { break }
            output.append(contentsOf: buffer[..<count])
            // Code far larger than the memory budget means something is wrong: stop it.
            if output.count > memoryBudget {
                overBudget = true
                break
            }
        }
        if overBudget { kill(pid, SIGKILL) }
        var status: Int32 = 0
        while waitpid(pid, &status, 0) < 0 && errno == EINTR {}
        let message = Self.contents(of: stderr)
        let budgets = "\(timeBudget) and \(memoryBudget >> 20) MiB"
        if overBudget {
            throw SandboxError("compiling the module exceeded its budget of \(budgets): the module is refused")
        }
        let signal = status & 0x7f
        if signal != 0 {
            // Out of address space aborts (SIGABRT); out of CPU time is SIGXCPU or SIGKILL.
            if signal == SIGABRT || signal == SIGXCPU || signal == SIGKILL || signal == SIGSEGV {
                throw SandboxError("compiling the module exceeded its budget of \(budgets): the module is refused")
            }
            throw SandboxError("the compiler died with signal \(signal)", kind: .internalError)
        }
        switch (status >> 8) & 0xff {
        case 0: return output
        case 65: throw SandboxError(message.isEmpty ? "invalid WebAssembly module" : message)
        default:
            if message.contains("memory allocation") || message.contains("out of memory") {
                throw SandboxError("compiling the module exceeded its budget of \(budgets): the module is refused")
            }
            throw SandboxError("the compiler failed: \(message)", kind: .internalError)
        }
    }

    /// Serialises pipe creation with spawning: a pipe end must be close-on-exec before any
    /// other helper starts, or that helper would hold it open and hide this one's end of output.
    private static let spawnLock = Mutex(())

    /// Starts the helper with its stdout on a new pipe; returns its pid and the read end.
    private static func spawn(_ arguments: [String], stdin: Int32, stderr: Int32) throws(SandboxError) -> (
        pid_t, Int32
    ) {
        try spawnLock.withLock { _ throws(SandboxError) in
            var ends: [Int32] = [-1, -1]
            guard pipe(&ends) == 0 else { throw systemError("cannot create a pipe") }
            _ = fcntl(ends[0], F_SETFD, FD_CLOEXEC)
            _ = fcntl(ends[1], F_SETFD, FD_CLOEXEC)
            defer { close(ends[1]) }
            do throws(SandboxError) {
                return (try spawn(arguments, stdin: stdin, stdout: ends[1], stderr: stderr), ends[0])
            } catch {
                close(ends[0])
                throw error
            }
        }
    }

    private static func spawn(_ arguments: [String], stdin: Int32, stdout: Int32, stderr: Int32) throws(SandboxError)
        -> pid_t
    {
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        lseek(stdin, 0, SEEK_SET)
        posix_spawn_file_actions_adddup2(&actions, stdin, 0)
        posix_spawn_file_actions_adddup2(&actions, stdout, 1)
        posix_spawn_file_actions_adddup2(&actions, stderr, 2)
        var attributes = posix_spawnattr_t()
        posix_spawnattr_init(&attributes)
        defer { posix_spawnattr_destroy(&attributes) }
        // Default signal handling and an empty mask in the child, whatever this process set.
        var none = sigset_t()
        sigemptyset(&none)
        var all = sigset_t()
        sigfillset(&all)
        posix_spawnattr_setsigmask(&attributes, &none)
        posix_spawnattr_setsigdefault(&attributes, &all)
        posix_spawnattr_setflags(&attributes, Int16(POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF))
        let argv = arguments.map { strdup($0) } + [nil]
        defer { for pointer in argv { free(pointer) } }
        // The helper's own environment, minus Swift's crash reporter: a helper killed at its
        // budget should just die, not spend seconds symbolicating.
        var environment = ProcessInfo.processInfo.environment
        environment["SWIFT_BACKTRACE"] = "enable=no"
        let envp = environment.map { strdup("\($0.key)=\($0.value)") } + [nil]
        defer { for pointer in envp { free(pointer) } }
        var pid: pid_t = 0
        let result = posix_spawn(&pid, arguments[0], &actions, &attributes, argv, envp)
        guard result == 0 else {
            throw SandboxError(
                "cannot start the compiler '\(arguments[0])': \(String(cString: strerror(result)))",
                kind: .internalError)
        }
        return pid
    }

    private static func temporaryFile(holding bytes: [UInt8]) throws(SandboxError) -> Int32 {
        // Close-on-exec from the start, so no other helper starting meanwhile inherits it.
        let path = NSTemporaryDirectory() + "/wasm-sandbox-compile-\(UUID().uuidString)"
        let fd = open(path, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0o600)
        guard fd >= 0 else { throw systemError("cannot create a temporary file") }
        unlink(path)
        var written = 0
        while written < bytes.count {
            let count = bytes.withUnsafeBytes { write(fd, $0.baseAddress! + written, bytes.count - written) }
            guard count > 0 else {
                close(fd)
                throw systemError("cannot write a temporary file")
            }
            written += count
        }
        return fd
    }

    /// The first 4 KiB of what the helper wrote to a temporary file.
    private static func contents(of fd: Int32) -> String {
        var bytes = [UInt8](repeating: 0, count: 4096)
        let count = bytes.withUnsafeMutableBytes { pread(fd, $0.baseAddress, $0.count, 0) }
        return String(decoding: bytes[..<max(count, 0)], as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
    }

    private static func systemError(_ what: String) -> SandboxError {
        SandboxError("\(what): \(String(cString: strerror(errno)))", kind: .internalError)
    }
}
