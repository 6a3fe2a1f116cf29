import Crypto
import Foundation
import Wasmtime

/// A module ready to instantiate, linked both ways the sandbox runs modules.
struct PreparedModule: Sendable {
    /// stdout and stderr written directly by ``DirectOutput``: the fast path.
    let directOutput: InstancePre
    /// Wasmtime's own `fd_write`, for runs that may write files.
    let fileOutput: InstancePre
}

/// The two linkers every module is prepared with (see ``PreparedModule``).
struct Linkers: Sendable {
    let directOutput: Linker
    let fileOutput: Linker
}

/// Compiled modules keyed by the SHA-256 of their bytes: a bounded in-memory LRU in front
/// of an optional on-disk cache. Concurrent requests for the same new module compile it once.
final class ModuleCache: @unchecked Sendable {
    /// What a lookup cost.
    enum Source: Sendable {
        case memory, disk
        case compiled(Duration)
    }

    private let engine: Engine
    private let linkers: Linkers
    private let disk: DiskModuleCache?
    private let capacity: Int
    private let onCompile: (@Sendable (Int) -> Void)?
    private let condition = NSCondition()
    private var entries: [[UInt8]: (module: PreparedModule, lastUse: UInt64)] = [:]
    private var compiling: Set<[UInt8]> = []
    private var useCounter: UInt64 = 0

    init(
        engine: Engine, linkers: Linkers, capacity: Int, disk: DiskModuleCache?,
        onCompile: (@Sendable (Int) -> Void)? = nil
    ) {
        self.onCompile = onCompile
        self.engine = engine
        self.linkers = linkers
        self.capacity = max(capacity, 1)
        self.disk = disk
    }

    /// The prepared module for `wasm`, compiling (or loading from disk) on a miss.
    func module(for wasm: [UInt8]) throws(SandboxError) -> (PreparedModule, Source) {
        try module(key: Array(SHA256.hash(data: wasm)), bytes: { wasm })
    }

    /// The prepared module stored under `key`; `bytes` is called only when it must be compiled.
    /// The key must identify the bytes as surely as their hash does.
    func module(key: [UInt8], bytes: () throws(SandboxError) -> [UInt8]) throws(SandboxError) -> (
        PreparedModule, Source
    ) {
        condition.lock()
        while true {
            if let hit = entries[key] {
                useCounter += 1
                entries[key]!.lastUse = useCounter
                condition.unlock()
                return (hit.module, .memory)
            }
            if !compiling.contains(key) { break }
            condition.wait()
        }
        compiling.insert(key)
        condition.unlock()

        let result: Result<(PreparedModule, Source), SandboxError>
        do { result = .success(try load(key: key, bytes: bytes)) } catch { result = .failure(error) }

        condition.lock()
        compiling.remove(key)
        if case .success(let (module, _)) = result {
            if entries.count >= capacity, let oldest = entries.min(by: { $0.value.lastUse < $1.value.lastUse }) {
                entries.removeValue(forKey: oldest.key)
            }
            useCounter += 1
            entries[key] = (module, useCounter)
        }
        condition.broadcast()
        condition.unlock()
        return try result.get()
    }

    private func load(key: [UInt8], bytes: () throws(SandboxError) -> [UInt8]) throws(SandboxError) -> (
        PreparedModule, Source
    ) {
        if let disk {
            let loaded = disk.withVerifiedPayload(key: key) { try? Module(engine: engine, trustedSerialized: $0) }
            if let module = loaded { return (try prepare(module), .disk) }
            disk.discard(key: key)
        }
        let wasm = try bytes()
        onCompile?(wasm.count)
        let start = MonotonicClock.now()
        let module: Module
        do {
            module = try Module(engine: engine, wasm: wasm)
        } catch {
            throw SandboxError("invalid WebAssembly module: \(error.message)")
        }
        let prepared = try prepare(module)
        let elapsed = Duration.nanoseconds(Int64(MonotonicClock.now() - start))
        if let disk, let serialized = try? module.serialize() {
            disk.store(key: key, serialized: serialized)
        }
        return (prepared, .compiled(elapsed))
    }

    private func prepare(_ module: Module) throws(SandboxError) -> PreparedModule {
        guard module.exports.contains(where: { $0.name == "_start" && $0.kind == .function }) else {
            throw SandboxError("the module exports no '_start' function: it must be a WASI command")
        }
        do {
            return PreparedModule(
                directOutput: try linkers.directOutput.instantiatePre(module),
                fileOutput: try linkers.fileOutput.instantiatePre(module))
        } catch {
            throw SandboxError("cannot link the module: \(error.message)")
        }
    }
}
