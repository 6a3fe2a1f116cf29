import Foundation

extension Sandbox {
    /// A language engine `prepare` compiled or found up to date.
    public struct PreparedEngine: Sendable {
        /// `JavaScript` or `Python`.
        public var language: String
        /// Whether the engine configuration meters fuel (runs with a fuel budget use it).
        public var metersFuel: Bool
        /// Whether it was compiled now (`false`: an up-to-date file was there).
        public var compiled: Bool
        /// How long this took.
        public var duration: Duration
    }

    /// Compiles the shipped language engines for both of this sandbox's engine configurations
    /// (with and without fuel metering) into files beside the engines, where every later
    /// process loads them in milliseconds instead of compiling (minutes for Python).
    ///
    /// Setup runs this (`wasm-sandbox prepare`); up-to-date files are left alone.
    /// `progress` is called before each compile that is needed.
    ///
    /// - Throws: ``SandboxError`` when an engine is missing, does not compile, or the
    ///   directory beside it cannot be written.
    public func prepareEngines(progress: (_ language: String, _ metersFuel: Bool) -> Void = { _, _ in })
        throws(SandboxError) -> [PreparedEngine]
    {
        var prepared: [PreparedEngine] = []
        var kept: [String: Set<URL>] = [:]
        var engines: [EngineModule] = []
        for metersFuel in [false, true] {
            let runtime = try runtimes.runtime(metersFuel: metersFuel)
            for engine in [runtime.javascript, runtime.python] {
                let start = ContinuousClock.now
                let (file, compiled) = try engine.precompile(
                    engine: runtime.engine, fingerprint: runtime.fingerprint, linkers: runtime.cache
                ) { progress(engine.language, metersFuel) }
                kept[engine.language, default: []].insert(file)
                engines.append(engine)
                prepared.append(
                    PreparedEngine(
                        language: engine.language, metersFuel: metersFuel, compiled: compiled,
                        duration: ContinuousClock.now - start))
            }
        }
        // Each old copy is hundreds of megabytes for Python.
        for engine in engines { engine.removePrecompiled(except: kept[engine.language] ?? []) }
        return prepared
    }
}
