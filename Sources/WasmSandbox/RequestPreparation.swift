import Wasmtime

/// A request resolved as far as an execution thread may take it.
enum Preparation {
    /// The module to run and the request the guest sees.
    case ready(PreparedModule, ExecutionRequest, ModuleCache.Source)
    /// The module is in no cache: it must be compiled first, off the execution threads.
    case needsCompile(ModuleCode, key: [UInt8])
}

extension Sandbox {
    /// Resolves a request to the module to run and the request the guest sees: for a
    /// language, its engine's module, with the engine's program name and directories. A module from the
    /// request is looked up in the caches only; `compiled` is one compiled for it already.
    func prepare(_ request: ExecutionRequest, in runtime: Runtime, compiled: (PreparedModule, ModuleCache.Source)?)
        throws(SandboxError) -> Preparation
    {
        switch request.input {
        case .wasm(let bytes):
            try configuration.checkModule(request.input)
            return try lookUp(.wasm(bytes), request: request, in: runtime, compiled: compiled)
        case .wat(let text):
            try configuration.checkModule(request.input)
            return try lookUp(.wat(text), request: request, in: runtime, compiled: compiled)
        case .javascript(let source):
            try configuration.checkSource(source, language: "JavaScript")
            let (module, cacheSource) = try runtime.javascript.module(
                cache: runtime.cache, fingerprint: runtime.fingerprint)
            var guest = request
            guest.programName = JavaScriptEngine.programName
            return .ready(module, guest, cacheSource)
        case .python(let source):
            try configuration.checkSource(source, language: "Python")
            let (module, cacheSource) = try runtime.python.module(
                cache: runtime.cache, fingerprint: runtime.fingerprint)
            var guest = request
            guest.programName = PythonEngine.programName
            guest.mounts = PythonEngine.mounts(engine: runtime.python.file) + request.mounts
            return .ready(module, guest, cacheSource)
        }
    }

    /// How modules from requests are compiled.
    var compilation: Compilation {
        get throws(SandboxError) {
            switch configuration.compileIsolation {
            case .inProcess: return .inProcess
            case .process:
                guard let executable = configuration.compilerExecutable else {
                    throw SandboxError(
                        "the compile helper wasm-sandbox-compile was not found: set WASM_SANDBOX_COMPILER or SandboxConfiguration.compilerExecutable",
                        kind: .internalError)
                }
                return .isolated(
                    IsolatedCompiler(
                        executable: executable, timeBudget: configuration.compileTimeBudget,
                        memoryBudget: configuration.compileMemoryBudget))
            }
        }
    }

    private func lookUp(
        _ code: ModuleCode, request: ExecutionRequest, in runtime: Runtime,
        compiled: (PreparedModule, ModuleCache.Source)?
    ) throws(SandboxError) -> Preparation {
        if let (module, source) = compiled { return .ready(module, request, source) }
        let key = code.key
        if let (module, source) = try runtime.cache.cached(key: key) { return .ready(module, request, source) }
        return .needsCompile(code, key: key)
    }
}
