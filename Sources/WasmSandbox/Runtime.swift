import Crypto
import Synchronization
import Wasmtime

/// One Wasmtime engine with everything compiled for it: its module cache and language
/// engines.
///
/// The sandbox keeps two. Fuel metering is an engine-wide setting and roughly halves the
/// speed of compute-bound code, so only runs that ask for a fuel budget use the metered
/// runtime; the others rely on the wall-clock deadline alone.
final class Runtime: Sendable {
    let engine: Engine
    let metersFuel: Bool
    let cache: ModuleCache
    let javascript: EngineModule
    let python: EngineModule
    /// Identifies the engine's configuration for compiled code (see ``DiskModuleCache``).
    let fingerprint: [UInt8]
    /// Wasmtime's WASI alone, for the originals behind ``FileWrites``.
    let wasi: Linker<RunState>
    /// ``FileWrites``'s forwarder, compiled on first use.
    private let forwarderModule = Mutex<Module?>(nil)

    init(configuration: SandboxConfiguration, metersFuel: Bool) throws(WasmtimeError) {
        let engineConfiguration = Self.engineConfiguration(for: configuration, metersFuel: metersFuel)
        engine = try Engine(engineConfiguration)
        self.metersFuel = metersFuel
        let linkers = Linkers(
            directOutput: try Self.sandboxLinker(engine: engine) { linker throws(WasmtimeError) in
                try DirectOutput.define(on: &linker)
            },
            fileOutput: try Self.sandboxLinker(engine: engine) { linker throws(WasmtimeError) in
                try FileWrites.define(on: &linker)
            })
        var wasi = LinkerBuilder<RunState>(engine: engine)
        try wasi.defineWASI()
        self.wasi = wasi.build()
        // A set prints in a per-process order: list the proposals sorted so that every
        // process derives the same fingerprint.
        // The instance pool plays no part in compiled code (the compile helper has none), so
        // sandboxes sized differently share cache files.
        var described = engineConfiguration
        described.disabledProposals = []
        described.enabledProposals = []
        described.pooling = nil
        let identity =
            "wasmtime-c-api-50|\(described)|\(engineConfiguration.disabledProposals.sorted().map(\.rawValue))|\(engineConfiguration.enabledProposals.sorted().map(\.rawValue))"
        let fingerprint = Array(SHA256.hash(data: Array(identity.utf8)))
        self.fingerprint = fingerprint
        let disk = configuration.diskCacheDirectory.flatMap { directory -> DiskModuleCache? in
            do {
                return try DiskModuleCache(
                    directory: directory, engineFingerprint: fingerprint, maxBytes: configuration.diskCacheBytes)
            } catch {
                configuration.logger.warning(
                    "the disk cache is off: its directory cannot be used",
                    metadata: ["directory": "\(directory.path)", "error": "\(error)"])
                return nil
            }
        }
        cache = ModuleCache(
            engine: engine, linkers: linkers, capacity: configuration.moduleCacheCapacity,
            byteCapacity: configuration.moduleCacheBytes, disk: disk,
            onCompile: configuration.onCompile)
        javascript = EngineModule(
            language: "JavaScript", file: configuration.javascriptEngine,
            kind: .reactor(exports: JavaScriptEngine.exports))
        python = EngineModule(
            language: "Python", file: configuration.pythonEngine, kind: .reactor(exports: PythonEngine.exports))
    }

    /// WASI with the sandbox's interruptible and bounded replacements, and `output`'s.
    private static func sandboxLinker(
        engine: Engine, output: (inout LinkerBuilder<RunState>) throws(WasmtimeError) -> Void
    ) throws(WasmtimeError) -> Linker<RunState> {
        var linker = LinkerBuilder<RunState>(engine: engine)
        try linker.defineWASI()
        try InterruptiblePoll.define(on: &linker)
        try RandomSource.define(on: &linker)
        try HostCall.define(on: &linker)
        try output(&linker)
        return linker.build()
    }

    /// The module that forwards file writes to Wasmtime's WASI (see ``FileWrites``).
    func forwarder() throws(WasmtimeError) -> Module {
        try forwarderModule.withLock { (cached: inout Module?) throws(WasmtimeError) -> Module in
            if let cached { return cached }
            let module = try Module(engine: engine, wasm: try wat2wasm(FileWrites.forwarderText))
            cached = module
            return module
        }
    }

    /// Proposals nothing the sandbox runs needs, turned off so that no guest reaches memory
    /// outside its capped linear memory (GC heaps), shares memory across threads, or holds
    /// more than one memory. Exception handling stays on: the Python engine is built with it.
    static let disabledProposals: Set<EngineConfiguration.Proposal> = [
        .gc, .functionReferences, .threads, .memory64, .multiMemory, .stackSwitching,
    ]

    static func engineConfiguration(for configuration: SandboxConfiguration, metersFuel: Bool) -> EngineConfiguration {
        var engine = EngineConfiguration()
        engine.consumeFuel = metersFuel
        engine.epochInterruption = true
        engine.maxWasmStack = configuration.maxWasmStackBytes
        engine.disabledProposals = disabledProposals
        engine.enabledProposals = [.exceptions]
        guard configuration.instanceAllocation == .pooling else { return engine }
        // One run per sandbox thread and as many for callers of executeBlocking, plus every
        // open session's instance; each with its module and, when it writes files (sessions
        // always do), a forwarder (see FileWrites).
        let runs = 2 * configuration.maxConcurrentExecutions
        let sessions = configuration.sessions.maxSessions
        var pooling = PoolingConfiguration(
            totalInstances: UInt32(2 * (runs + sessions)), maxMemorySize: configuration.maxMemoryBytes)
        // The forwarder has no memory or table of its own.
        pooling.totalMemories = UInt32(runs + sessions)
        pooling.maxUnusedWarmSlots = UInt32(configuration.maxConcurrentExecutions)
        // Nothing is kept resident: keeping a prefix means restoring it by copy on every
        // reuse, which cost the Python engine 0.6 ms a run (an 81 MiB image whose hot pages
        // lie beyond any small prefix) and no longer helped JavaScript, whose engines are
        // memory-mapped from their precompiled files (measured with `bench soak --python` and
        // `bench library --suite javascript`).
        pooling.linearMemoryKeepResident = 0
        engine.pooling = pooling
        return engine
    }
}
