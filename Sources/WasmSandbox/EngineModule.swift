import Crypto
import Foundation
import Synchronization

/// A language runtime shipped as a WebAssembly module (such as the QuickJS engine), loaded
/// and prepared once per sandbox on first use.
///
/// Hashing the module's bytes for the cache on every run would cost more than the run, so
/// the prepared module is kept here after the first lookup.
final class EngineModule: Sendable {
    let language: String
    let file: URL?
    private let prepared = Mutex<PreparedModule?>(nil)

    init(language: String, file: URL?) {
        self.language = language
        self.file = file
    }

    /// The prepared engine and whether it came without compiling in this call.
    func module(cache: ModuleCache) throws(SandboxError) -> (PreparedModule, ModuleCache.Source) {
        if let module = prepared.withLock({ $0 }) { return (module, .memory) }
        guard let file else {
            throw SandboxError("no \(language) engine is configured", kind: .internalError)
        }
        // The engine file is installed by setup, so its identity (path, inode, size, change
        // time) keys the cache: a new process need not read and hash 20 MB to find it.
        var info = stat()
        guard stat(file.path, &info) == 0 else {
            throw SandboxError(
                "the \(language) engine module was not found at \(file.path): run scripts/setup.sh",
                kind: .internalError)
        }
        let identity =
            "engine-file|\(file.path)|\(info.st_ino)|\(info.st_size)|\(info.st_mtim.tv_sec).\(info.st_mtim.tv_nsec)|\(info.st_ctim.tv_sec).\(info.st_ctim.tv_nsec)"
        let (module, source) = try cache.module(key: Array(SHA256.hash(data: Array(identity.utf8)))) {
            () throws(SandboxError) -> [UInt8] in
            guard let data = try? Data(contentsOf: file) else {
                throw SandboxError("cannot read the \(language) engine module at \(file.path)", kind: .internalError)
            }
            return [UInt8](data)
        }
        prepared.withLock { $0 = module }
        return (module, source)
    }
}
