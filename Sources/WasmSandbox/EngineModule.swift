import Crypto
import Foundation
import Synchronization
import Wasmtime

/// A language runtime shipped as a WebAssembly module (the QuickJS and CPython engines),
/// loaded and prepared once per runtime on first use.
///
/// Compiling the Python engine takes minutes, so `wasm-sandbox prepare` (run by setup)
/// compiles each engine ahead of time for the engine configurations the CLI and the server
/// use, into a file beside the engine (see ``precompiledFile(fingerprint:)``). A runtime
/// memory-maps that file, which takes milliseconds; only an engine configuration nobody
/// prepared falls back to the module cache, and compiles on a miss.
final class EngineModule: Sendable {
    let language: String
    let file: URL?
    let kind: ModuleKind
    private let prepared = Mutex<PreparedModule?>(nil)

    init(language: String, file: URL?, kind: ModuleKind) {
        self.language = language
        self.file = file
        self.kind = kind
    }

    /// The prepared engine and whether it came without compiling in this call.
    func module(cache: ModuleCache, fingerprint: [UInt8]) throws(SandboxError) -> (PreparedModule, ModuleCache.Source) {
        if let module = prepared.withLock({ $0 }) { return (module, .memory) }
        let identity = try identity()
        let module: PreparedModule
        let source: ModuleCache.Source
        if let precompiled = try loadPrecompiled(identity: identity, fingerprint: fingerprint, cache: cache) {
            (module, source) = (precompiled, .disk)
        } else {
            (module, source) = try cache.module(key: identity, kind: kind) { () throws(SandboxError) -> [UInt8] in
                try bytes()
            }
        }
        prepared.withLock { $0 = module }
        return (module, source)
    }

    /// Compiles the engine for `engine` and writes it where ``module(cache:fingerprint:)``
    /// looks first; does nothing when an up-to-date file is there. Returns the file and
    /// whether it compiled.
    func precompile(
        engine: Engine, fingerprint: [UInt8], linkers cache: ModuleCache, willCompile: () -> Void
    ) throws(SandboxError) -> (file: URL, compiled: Bool) {
        let identity = try identity()
        let target = try precompiledFile(identity: identity, fingerprint: fingerprint)
        if try loadPrecompiled(identity: identity, fingerprint: fingerprint, cache: cache) != nil {
            return (target, false)
        }
        willCompile()
        let wasm = try bytes()
        let module: Module
        do { module = try Module(engine: engine, wasm: wasm) } catch {
            throw SandboxError("cannot compile the \(language) engine: \(error.message)", kind: .internalError)
        }
        _ = try cache.prepare(module, kind: kind)
        let serialized: [UInt8]
        do { serialized = try module.serialize() } catch {
            throw SandboxError("cannot serialize the \(language) engine: \(error.message)", kind: .internalError)
        }
        let temporary = target.deletingLastPathComponent().appendingPathComponent(".\(UUID().uuidString).tmp")
        do {
            try Data(serialized).write(to: temporary, options: .withoutOverwriting)
            chmod(temporary.path, 0o644)
            guard rename(temporary.path, target.path) == 0 else { throw SandboxError("rename failed") }
        } catch {
            try? FileManager.default.removeItem(at: temporary)
            throw SandboxError(
                "cannot write the compiled \(language) engine to \(target.path): \(error)", kind: .internalError)
        }
        return (target, true)
    }

    /// Deletes compiled copies of this engine other than `kept`: those of an engine file
    /// since replaced, or of configurations no longer used.
    func removePrecompiled(except kept: Set<URL>) {
        guard let file else { return }
        let directory = file.deletingLastPathComponent()
        let names = (try? FileManager.default.contentsOfDirectory(atPath: directory.path)) ?? []
        for name in names where name.hasPrefix(file.lastPathComponent + ".") && name.hasSuffix(".cwasm") {
            let url = directory.appendingPathComponent(name)
            if !kept.contains(url) { try? FileManager.default.removeItem(at: url) }
        }
    }

    /// The compiled engine beside the engine file, for this file (by its identity) and this
    /// engine configuration (by its fingerprint): `python.wasm.<hash>.cwasm`.
    private func precompiledFile(identity: [UInt8], fingerprint: [UInt8]) throws(SandboxError) -> URL {
        let file = try engineFile()
        let hash = SHA256.hash(data: identity + fingerprint).prefix(8).hexString
        return file.deletingLastPathComponent().appendingPathComponent("\(file.lastPathComponent).\(hash).cwasm")
    }

    /// The precompiled engine, if a file for this engine and configuration is there and
    /// Wasmtime accepts it (it checks the file's engine version and settings).
    private func loadPrecompiled(identity: [UInt8], fingerprint: [UInt8], cache: ModuleCache) throws(SandboxError)
        -> PreparedModule?
    {
        let path = try precompiledFile(identity: identity, fingerprint: fingerprint).path
        guard access(path, R_OK) == 0, let module = try? Module(engine: cache.engine, trustedSerializedFile: path)
        else { return nil }
        return try cache.prepare(module, kind: kind)
    }

    private func engineFile() throws(SandboxError) -> URL {
        guard let file else {
            throw SandboxError("no \(language) engine is configured", kind: .internalError)
        }
        return file
    }

    /// The engine file's identity (path, inode, size, times): installed by setup, it keys
    /// compiled code without reading and hashing tens of megabytes in every process.
    private func identity() throws(SandboxError) -> [UInt8] {
        let file = try engineFile()
        var info = stat()
        guard stat(file.path, &info) == 0 else {
            throw SandboxError(
                "the \(language) engine module was not found at \(file.path): run scripts/setup.sh",
                kind: .internalError)
        }
        let identity =
            "engine-file|\(file.path)|\(info.st_ino)|\(info.st_size)|\(info.st_mtim.tv_sec).\(info.st_mtim.tv_nsec)|\(info.st_ctim.tv_sec).\(info.st_ctim.tv_nsec)"
        return Array(SHA256.hash(data: Array(identity.utf8)))
    }

    private func bytes() throws(SandboxError) -> [UInt8] {
        let file = try engineFile()
        guard let data = try? Data(contentsOf: file) else {
            throw SandboxError("cannot read the \(language) engine module at \(file.path)", kind: .internalError)
        }
        return [UInt8](data)
    }
}
