import Crypto
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

    init(configuration: SandboxConfiguration, metersFuel: Bool) throws(WasmtimeError) {
        let engineConfiguration = Self.engineConfiguration(for: configuration, metersFuel: metersFuel)
        engine = try Engine(engineConfiguration)
        self.metersFuel = metersFuel
        let linkers = Linkers(directOutput: Linker(engine: engine), fileOutput: Linker(engine: engine))
        for linker in [linkers.directOutput, linkers.fileOutput] {
            try linker.defineWASI()
            try InterruptiblePoll.define(on: linker)
        }
        try DirectOutput.define(on: linkers.directOutput)
        let fingerprint = Array(SHA256.hash(data: Array("wasmtime-c-api-50|\(engineConfiguration)".utf8)))
        let disk = configuration.diskCacheDirectory.flatMap {
            try? DiskModuleCache(directory: $0, engineFingerprint: fingerprint)
        }
        cache = ModuleCache(
            engine: engine, linkers: linkers, capacity: configuration.moduleCacheCapacity, disk: disk,
            onCompile: configuration.onCompile)
        javascript = EngineModule(language: "JavaScript", file: configuration.javascriptEngine)
        python = EngineModule(language: "Python", file: configuration.pythonEngine)
    }

    static func engineConfiguration(for configuration: SandboxConfiguration, metersFuel: Bool) -> EngineConfiguration {
        var engine = EngineConfiguration()
        engine.consumeFuel = metersFuel
        engine.epochInterruption = true
        engine.maxWasmStack = configuration.maxWasmStackBytes
        var pooling = PoolingConfiguration(
            // One slot per sandbox thread and as many for callers of executeBlocking.
            totalInstances: UInt32(2 * configuration.maxConcurrentExecutions),
            maxMemorySize: configuration.maxMemoryBytes)
        pooling.maxUnusedWarmSlots = UInt32(configuration.maxConcurrentExecutions)
        // Reset the first 4 MiB of a reused memory in place instead of unmapping it: a
        // pre-initialised engine otherwise takes a page fault for every page it touches.
        pooling.linearMemoryKeepResident = 4 << 20
        engine.pooling = pooling
        return engine
    }
}
