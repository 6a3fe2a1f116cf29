import Wasmtime

extension Sandbox {
    /// Resolves a request to the module to run and the request the guest sees: for a
    /// language runtime, the runtime's module with the source on stdin.
    func prepare(_ request: ExecutionRequest, in runtime: Runtime) throws(SandboxError) -> (
        PreparedModule, ExecutionRequest, ModuleCache.Source
    ) {
        switch request.input {
        case .wasm(let bytes):
            guard !bytes.isEmpty else { throw SandboxError("empty module: the input has no bytes") }
            try checkSize(bytes.count, of: "module", limit: configuration.maxModuleBytes)
            let (module, source) = try runtime.cache.module(for: bytes)
            return (module, request, source)
        case .wat(let text):
            guard !text.allSatisfy(\.isWhitespace) else { throw SandboxError("empty module: the WAT text is empty") }
            try checkSize(text.utf8.count, of: "WAT text", limit: configuration.maxModuleBytes)
            let wasm: [UInt8]
            do { wasm = try wat2wasm(text) } catch { throw SandboxError("invalid WAT: \(error.message)") }
            let (module, source) = try runtime.cache.module(for: wasm)
            return (module, request, source)
        case .javascript(let source):
            try checkSource(source, language: "JavaScript")
            guard request.stdin.isEmpty else {
                throw SandboxError("JavaScript runs take no stdin: the source is passed on it")
            }
            let (module, cacheSource) = try runtime.javascript.module(cache: runtime.cache)
            var guest = request
            guest.stdin = Array(source.utf8)
            guest.programName = "script.js"
            return (module, guest, cacheSource)
        case .python(let source):
            try checkSource(source, language: "Python")
            let (module, cacheSource) = try runtime.python.module(cache: runtime.cache)
            var guest = request
            guest.programName = "python"
            guest.arguments = ["-c", source] + request.arguments
            return (module, guest, cacheSource)
        }
    }

    private func checkSource(_ source: String, language: String) throws(SandboxError) {
        try checkSize(source.utf8.count, of: "\(language) source", limit: configuration.maxSourceBytes)
        guard !source.utf8.contains(0) else { throw SandboxError("the \(language) source contains a NUL byte") }
    }

    private func checkSize(_ size: Int, of what: String, limit: Int) throws(SandboxError) {
        guard size <= limit else {
            throw SandboxError("\(what) of \(size) bytes exceeds the \(limit)-byte limit")
        }
    }
}
