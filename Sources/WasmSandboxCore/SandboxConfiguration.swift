import CoreMetrics
import Foundation
import Logging

/// How a ``Sandbox`` is sized. Fixed for the sandbox's lifetime.
public struct SandboxConfiguration: Sendable {
    /// Executions running at once, each on a thread the sandbox owns (default 20).
    public var maxConcurrentExecutions = 20
    /// Executions that may wait for a thread; past this, requests get `busy` (default 1000).
    public var maxQueuedExecutions = 1000
    /// Limits applied to requests that bring none.
    public var defaultLimits = ExecutionLimits()
    /// The largest memory limit a request may ask for; sizes the pooling allocator's slots
    /// (default 1 GiB).
    public var maxMemoryBytes = 1 << 30
    /// Native stack Wasm may use before trapping with a stack overflow (default 8 MiB, which
    /// lets the JavaScript engine reach its own RangeError before the trap).
    public var maxWasmStackBytes = 8 << 20
    /// The largest module or WAT text accepted (default 64 MiB).
    public var maxModuleBytes = 64 << 20
    /// The largest program source accepted for a language runtime (default 1 MiB).
    public var maxSourceBytes = 1 << 20
    /// The JavaScript engine module built by `scripts/setup.sh`. Default:
    /// `$WASM_SANDBOX_JS_ENGINE`, else the first `share/wasm-sandbox/javascript.wasm` found in
    /// the running executable's prefix (`BIN/..`), `$WASM_SANDBOX_PREFIX`, the prefix of the
    /// loaded libwasmtime (`LIB/..`, where setup installed both) and `/usr/local`.
    public var javascriptEngine: URL? = SandboxConfiguration.installedEngine(
        "javascript.wasm", environment: "WASM_SANDBOX_JS_ENGINE")
    /// CPython 3.15 for WASI with the scientific stack, pre-initialised by `scripts/setup.sh`,
    /// with its standard library in `lib/` and matplotlib's data in `mpl-data/` beside it.
    /// Default: `$WASM_SANDBOX_PYTHON`, else the first `share/wasm-sandbox/python/python.wasm`
    /// found where the JavaScript engine is looked for.
    public var pythonEngine: URL? = SandboxConfiguration.installedEngine(
        "python/python.wasm", environment: "WASM_SANDBOX_PYTHON")
    /// Called before a module is compiled (not when it comes from a cache) with its size in
    /// bytes, so a front end can say why the first run is slow.
    public var onCompile: (@Sendable (_ moduleBytes: Int) -> Void)? = nil
    /// Compiled modules kept in memory (default 64).
    public var moduleCacheCapacity = 64
    /// Bytes of compiled code kept in memory, all modules together (default 512 MiB); the
    /// least recently used modules go first.
    public var moduleCacheBytes = 512 << 20
    /// Where compiled modules are kept across processes; `nil` turns the disk cache off.
    /// Default: `$XDG_CACHE_HOME/wasm-sandbox` or `~/.cache/wasm-sandbox`.
    public var diskCacheDirectory: URL? = SandboxConfiguration.defaultDiskCacheDirectory
    /// Bytes the disk cache may hold (default 2 GiB); past it, the least recently used
    /// files are deleted.
    public var diskCacheBytes = 2 << 30

    /// How many sessions may be open, for how long and with how much memory.
    public var sessions = SessionSettings()

    /// Where modules from requests are compiled (engines the project ships are trusted and
    /// always compile in process).
    public enum CompileIsolation: Sendable, Hashable {
        /// In a `wasm-sandbox-compile` helper process under ``compileTimeBudget`` and
        /// ``compileMemoryBudget``, killed past them (the default).
        case process
        /// In this process, without a budget: only for modules you trust.
        case inProcess
    }

    /// Where modules from requests are compiled (default ``CompileIsolation/process``).
    public var compileIsolation = CompileIsolation.process
    /// The compile helper. Default: `$WASM_SANDBOX_COMPILER`, else `wasm-sandbox-compile`
    /// beside the running executable, else in `bin` of `$WASM_SANDBOX_PREFIX`, of the loaded
    /// libwasmtime's prefix or of `/usr/local`.
    public var compilerExecutable: URL? = SandboxConfiguration.defaultCompilerExecutable
    /// Wall-clock time one module may take to compile (default 10 s); a module over it is
    /// `invalid_input`.
    public var compileTimeBudget: Duration = .seconds(10)
    /// Address space the compile helper may use (default 2 GiB); a module needing more is
    /// `invalid_input`.
    public var compileMemoryBudget = 2 << 30
    /// Compiles running at once, each on a thread of the sandbox's own (default 2); they
    /// never occupy execution threads.
    public var maxConcurrentCompiles = 2
    /// Compiles that may wait; past this, requests needing a compile get `busy` (default 64).
    public var maxQueuedCompiles = 64
    /// How often deadlines and stop requests are checked inside running Wasm (default 1 ms).
    public var checkInterval: Duration = .milliseconds(1)
    /// Where metrics go; `nil` uses the process-wide `MetricsSystem.factory`.
    public var metricsFactory: (any MetricsFactory)? = nil
    /// Where the sandbox reports what it works around: a disk cache it cannot use, an engine
    /// that cannot be created, a workspace it cannot remove.
    public var logger = Logger(label: "wasm-sandbox")

    /// How instances and their memories are allocated.
    public enum InstanceAllocation: Sendable, Hashable {
        /// Slots for ``SandboxConfiguration/maxConcurrentExecutions`` runs are reserved when
        /// the engine is built and reused, so starting a run costs microseconds: for servers.
        case pooling
        /// Each run maps its own memory when it starts, and nothing is reserved in advance:
        /// for a process that runs one request and exits.
        case onDemand
    }

    /// How instances and their memories are allocated (default ``InstanceAllocation/pooling``).
    public var instanceAllocation = InstanceAllocation.pooling
    /// The engine that runs requests (default Wasmtime). The full `WasmSandbox` library
    /// builds either; the `WasmSandboxWasmKit` product has only WasmKit.
    public var backend = SandboxBackendKind.wasmtime
    /// WasmKit cannot interrupt a guest from outside: a run's deadline is checked at its
    /// host calls. So that a module computing without host calls stops too, a WasmKit run
    /// without a fuel budget gets this many fuel units per second of its timeout. `nil`
    /// (the default) measures it when the backend starts: twice what a tight loop burns per
    /// second on this machine and build. Ignored by Wasmtime, which interrupts by epoch.
    public var wasmKitFuelPerSecond: UInt64? = nil

    public init() {}

    /// Where scripts/setup.sh installs a language engine, unless the environment says otherwise.
    public static func installedEngine(_ name: String, environment variable: String) -> URL {
        let environment = ProcessInfo.processInfo.environment
        if let path = environment[variable], !path.isEmpty {
            return URL(fileURLWithPath: path)
        }
        let named = environment["WASM_SANDBOX_PREFIX"].flatMap { $0.isEmpty ? nil : URL(fileURLWithPath: $0) }
        // Prefixes rather than one: a binary installed by scripts/install.sh, one run from
        // .build, and one run by a user who never exported the prefix setup.sh was given
        // must all find the engines.
        let installed = executableDirectory?.deletingLastPathComponent().appendingPathComponent(
            "share/wasm-sandbox/\(name)")
        return firstExisting("share/wasm-sandbox/\(name)", first: installed, named: named) {
            FileManager.default.fileExists(atPath: $0.path)
        }
            ?? (named ?? URL(fileURLWithPath: "/usr/local")).appendingPathComponent("share/wasm-sandbox/\(name)")
    }

    /// Where the compile helper is, unless the environment says otherwise.
    public static var defaultCompilerExecutable: URL? {
        let environment = ProcessInfo.processInfo.environment
        if let path = environment["WASM_SANDBOX_COMPILER"], !path.isEmpty { return URL(fileURLWithPath: path) }
        let name = "wasm-sandbox-compile"
        let named = environment["WASM_SANDBOX_PREFIX"].flatMap { $0.isEmpty ? nil : URL(fileURLWithPath: $0) }
        // Beside the executable first: a build directory holds both binaries.
        return firstExisting("bin/\(name)", first: executableDirectory?.appendingPathComponent(name), named: named) {
            FileManager.default.isExecutableFile(atPath: $0.path)
        }
    }

    /// `first` if `exists` holds for it, else `relative` under the first prefix where it holds:
    /// `named`, then where libwasmtime was loaded from, then /usr/local. The libwasmtime
    /// prefix is looked up only when the ones before it miss: it reads /proc/self/maps, which
    /// a one-shot run should not pay for.
    private static func firstExisting(
        _ relative: String, first: URL?, named: URL?, _ exists: (URL) -> Bool
    ) -> URL? {
        if let first, exists(first) { return first }
        let prefixes: [() -> URL?] = [{ named }, { loadedWasmtimePrefix }, { URL(fileURLWithPath: "/usr/local") }]
        for prefix in prefixes {
            if let candidate = prefix()?.appendingPathComponent(relative), exists(candidate) { return candidate }
        }
        return nil
    }

    /// The directory of the running executable (`PREFIX/bin` once installed).
    private static let executableDirectory: URL? = {
        guard let executable = try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe") else {
            return nil
        }
        return URL(fileURLWithPath: executable).deletingLastPathComponent()
    }()

    /// `PREFIX` for the libwasmtime this process loaded from `PREFIX/lib`: setup.sh installs
    /// it and the engines under one prefix, and a binary's rpath (or `LD_LIBRARY_PATH`) leads
    /// the loader there, so the library remembers the prefix when the environment does not.
    private static let loadedWasmtimePrefix: URL? = {
        // The mapping that holds a libwasmtime function names the file (dladdr would too, but
        // Glibc's Swift module hides it behind _GNU_SOURCE).
        guard let symbol = dlsym(nil, "wasm_engine_new") else { return nil }
        let address = UInt(bitPattern: symbol)
        // Parsed as bytes: Foundation's string splitting costs milliseconds here, on every
        // one-shot run.
        let fd = open("/proc/self/maps", O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { return nil }
        defer { close(fd) }
        var maps: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 65536)
        while maps.count < 16 << 20 {
            let count = read(fd, &chunk, chunk.count)
            guard count > 0 else { break }
            maps += chunk[..<count]
        }
        // Lines read "low-high perms offset device inode path".
        for line in maps.split(separator: UInt8(ascii: "\n")) {
            let fields = line.split(separator: UInt8(ascii: " "), maxSplits: 5, omittingEmptySubsequences: true)
            guard fields.count == 6, let dash = fields[0].firstIndex(of: UInt8(ascii: "-")),
                let low = UInt(String(decoding: fields[0][..<dash], as: UTF8.self), radix: 16),
                let high = UInt(String(decoding: fields[0][(dash + 1)...], as: UTF8.self), radix: 16),
                low <= address, address < high
            else { continue }
            let path = String(decoding: fields[5], as: UTF8.self).trimmingCharacters(in: .whitespaces)
            guard path.hasPrefix("/") else { return nil }
            return URL(fileURLWithPath: path).deletingLastPathComponent().deletingLastPathComponent()
        }
        return nil
    }()

    /// The per-user default location of the compiled-module cache.
    public static var defaultDiskCacheDirectory: URL {
        let environment = ProcessInfo.processInfo.environment
        if let xdg = environment["XDG_CACHE_HOME"], !xdg.isEmpty {
            return URL(fileURLWithPath: xdg).appendingPathComponent("wasm-sandbox")
        }
        return FileManager.default.homeDirectoryForCurrentUser
            .appendingPathComponent(".cache/wasm-sandbox")
    }
}

/// Bounds on the sandbox's sessions (see ``Sandbox/openSession(language:limits:files:)``).
///
/// Past ``maxSessions`` or ``maxTotalMemoryBytes``, opening a session closes the least
/// recently used idle sessions to make room; a session running a call is never closed for it.
public struct SessionSettings: Sendable, Hashable {
    /// A session without a call for this long is closed (default 10 minutes).
    public var idleTimeout: Duration = .seconds(600)
    /// Sessions open at once (default 64).
    public var maxSessions = 64
    /// Linear memory of all open sessions together (default 4 GiB). A session counts the
    /// size its memory has grown to, the most it can hold resident; a Python session starts
    /// at 81 MiB, a JavaScript one at 2 MiB.
    public var maxTotalMemoryBytes = 4 << 30

    public init() {}
}
