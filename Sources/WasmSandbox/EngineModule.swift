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
        guard let data = try? Data(contentsOf: file) else {
            throw SandboxError(
                "the \(language) engine module was not found at \(file.path): run scripts/setup.sh",
                kind: .internalError)
        }
        let (module, source) = try cache.module(for: [UInt8](data))
        prepared.withLock { $0 = module }
        return (module, source)
    }
}
