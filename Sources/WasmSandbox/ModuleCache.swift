import Crypto
import Foundation
import Wasmtime

/// A module ready to instantiate, linked both ways the sandbox runs modules.
struct PreparedModule: Sendable {
    /// stdout and stderr written directly by ``DirectOutput``; no file can be written.
    let directOutput: InstancePre<RunState>
    /// File writes through ``FileWrites``, for runs with writable directories.
    let fileOutput: InstancePre<RunState>
    /// The bytes its exported memory starts with, which a run's memory limit must allow.
    let initialMemoryBytes: Int
}

/// How a module is entered, which decides what it must export.
enum ModuleKind: Sendable {
    /// A WASI command, run once through `_start`: what requests bring.
    case command
    /// A reactor, entered through the named exports: the language engines.
    case reactor(exports: [String])
}

/// The two linkers every module is prepared with (see ``PreparedModule``).
struct Linkers: Sendable {
    let directOutput: Linker<RunState>
    let fileOutput: Linker<RunState>
}

/// Module code to compile, as the request gave it.
enum ModuleCode: Sendable {
    case wasm([UInt8])
    case wat(String)

    /// The cache key: the SHA-256 of the bytes, with text keyed apart from binaries.
    var key: [UInt8] {
        switch self {
        case .wasm(let bytes): Array(SHA256.hash(data: bytes))
        case .wat(let text): Array(SHA256.hash(data: Array("wat\0\(text)".utf8)))
        }
    }
}

/// How modules missing from both caches are compiled.
enum Compilation: Sendable {
    /// In this process: for the engines the project ships, which are trusted.
    case inProcess
    /// In a helper process under a budget: for everything a request brings.
    case isolated(IsolatedCompiler)
}

/// Compiled modules keyed by the SHA-256 of their code: an in-memory LRU bounded by entries
/// and by bytes of compiled code, in front of an optional on-disk cache. Concurrent requests
/// for the same new module compile it once.
final class ModuleCache: @unchecked Sendable {
    /// What a lookup cost.
    typealias Source = ModuleSource

    let engine: Engine
    private let linkers: Linkers
    private let disk: DiskModuleCache?
    private let onCompile: (@Sendable (Int) -> Void)?
    private let condition = NSCondition()
    private var entries: BoundedLRU<PreparedModule>
    private var compiling: Set<[UInt8]> = []

    init(
        engine: Engine, linkers: Linkers, capacity: Int, byteCapacity: Int, disk: DiskModuleCache?,
        onCompile: (@Sendable (Int) -> Void)? = nil
    ) {
        self.onCompile = onCompile
        self.engine = engine
        self.linkers = linkers
        entries = BoundedLRU(capacity: max(capacity, 1), byteCapacity: byteCapacity)
        self.disk = disk
    }

    /// Compiled code in memory, right now.
    var residentCodeBytes: Int {
        condition.lock()
        defer { condition.unlock() }
        return entries.bytes
    }

    /// The prepared module stored under `key` in memory, if it is there.
    func inMemory(key: [UInt8]) -> PreparedModule? {
        condition.lock()
        defer { condition.unlock() }
        return entries.peek(key)
    }

    /// The prepared module stored under `key` in memory or on disk, without compiling.
    func cached(key: [UInt8], kind: ModuleKind = .command) throws(SandboxError) -> (PreparedModule, Source)? {
        condition.lock()
        if let hit = entries.lookUp(key) {
            condition.unlock()
            return (hit, .memory)
        }
        condition.unlock()
        guard let disk else { return nil }
        let loaded = disk.withVerifiedPayload(key: key) { payload in
            (try? Module(engine: engine, trustedSerialized: payload)).map { ($0, payload.count) }
        }
        guard let (module, size) = loaded else {
            disk.discard(key: key)
            return nil
        }
        let prepared = try prepare(module, kind: kind)
        insert(prepared, key: key, bytes: size)
        return (prepared, .disk)
    }

    /// The prepared module for `code`, compiling it with `compilation` on a miss. Callers
    /// that must not compile (execution threads) call ``cached(key:)`` first.
    func module(for code: ModuleCode, key: [UInt8]? = nil, kind: ModuleKind = .command, compilation: Compilation)
        throws(SandboxError) -> (PreparedModule, Source)
    {
        let key = key ?? code.key
        condition.lock()
        while compiling.contains(key) { condition.wait() }
        compiling.insert(key)
        condition.unlock()
        defer {
            condition.lock()
            compiling.remove(key)
            condition.broadcast()
            condition.unlock()
        }
        // Another caller may have finished the same module while this one waited.
        if let hit = try cached(key: key, kind: kind) { return hit }
        let start = MonotonicClock.now()
        let (module, serialized) = try compile(code, compilation: compilation)
        let prepared = try prepare(module, kind: kind)
        let elapsed = Duration.nanoseconds(Int64(MonotonicClock.now() - start))
        if let disk, let serialized { disk.store(key: key, serialized: serialized) }
        insert(prepared, key: key, bytes: serialized?.count ?? 0)
        return (prepared, .compiled(elapsed))
    }

    /// The prepared module stored under `key`; `bytes` is called only when it must be
    /// compiled, in process. For trusted code only.
    func module(key: [UInt8], kind: ModuleKind, bytes: () throws(SandboxError) -> [UInt8]) throws(SandboxError)
        -> (PreparedModule, Source)
    {
        if let hit = try cached(key: key, kind: kind) { return hit }
        return try module(for: .wasm(try bytes()), key: key, kind: kind, compilation: .inProcess)
    }

    private func compile(_ code: ModuleCode, compilation: Compilation) throws(SandboxError) -> (Module, [UInt8]?) {
        switch compilation {
        case .isolated(let compiler):
            let serialized: [UInt8]
            switch code {
            case .wasm(let bytes): serialized = try compiler.compile(bytes, format: .wasm, engine: engine.configuration)
            case .wat(let text):
                serialized = try compiler.compile(Array(text.utf8), format: .wat, engine: engine.configuration)
            }
            do {
                return (try Module(engine: engine, trustedSerialized: serialized), serialized)
            } catch  where error.message.contains("does not fit in pooling allocator requirements") {
                // The module asks for more tables, memories or elements than an instance of the
                // pool has room for: the request's limit, not the sandbox's fault.
                throw SandboxError(
                    "the module needs more than an instance of the sandbox's pool holds (one memory, one table): \(error.message)"
                )
            } catch {
                throw SandboxError("cannot load the compiled module: \(error.message)", kind: .internalError)
            }
        case .inProcess:
            let wasm: [UInt8]
            switch code {
            case .wasm(let bytes): wasm = bytes
            case .wat(let text):
                do { wasm = try wat2wasm(text) } catch { throw SandboxError("invalid WAT: \(error.message)") }
            }
            onCompile?(wasm.count)
            let module: Module
            do { module = try Module(engine: engine, wasm: wasm) } catch {
                throw SandboxError("invalid WebAssembly module: \(error.message)")
            }
            return (module, try? module.serialize())
        }
    }

    /// Adds an entry, evicting the least recently used ones past either bound. An entry
    /// larger than the byte bound alone is used once and not kept.
    private func insert(_ module: PreparedModule, key: [UInt8], bytes: Int) {
        condition.lock()
        defer { condition.unlock() }
        entries.insert(module, key: key, bytes: bytes)
    }

    /// Links `module` both ways, after checking that it exports what its kind is entered by.
    func prepare(_ module: Module, kind: ModuleKind) throws(SandboxError) -> PreparedModule {
        switch kind {
        case .command:
            guard module.exports.contains(where: { $0.name == "_start" && $0.kind == .function }) else {
                throw SandboxError("the module exports no '_start' function: it must be a WASI command")
            }
        case .reactor(let names):
            let exports = module.exports
            for name in names where !exports.contains(where: { $0.name == name }) {
                throw SandboxError("the engine module exports no '\(name)'", kind: .internalError)
            }
        }
        do {
            let pages = module.exports.compactMap(\.memoryMinimumPages).max() ?? 0
            return PreparedModule(
                directOutput: try linkers.directOutput.instantiatePre(module),
                fileOutput: try linkers.fileOutput.instantiatePre(module),
                initialMemoryBytes: Int(clamping: pages.multipliedReportingOverflow(by: 65536).partialValue))
        } catch {
            throw SandboxError("cannot link the module: \(error.message)")
        }
    }
}
