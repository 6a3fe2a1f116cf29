import Crypto
import Foundation
import Synchronization
import WAT
import WasmKit
import WasmParser
import WasmSandboxCore

/// Runs requests on WasmKit, a pure-Swift interpreter: no JIT, no native library.
///
/// Modules are parsed once and kept (by the SHA-256 of their bytes); every run gets a fresh
/// `Store` with its memory cap, fuel, guarded WASI and deadline checks. WasmKit translates a
/// function when a store first calls it, so each run pays for the functions it touches.
///
/// What differs from Wasmtime, and why (the README's backend table says the same):
/// - WasmKit cannot interrupt a guest from outside. The deadline (and cancellation, and the
///   output caps) are checked at every WASI call and while a guest sleeps; the JavaScript
///   engine reads the clock every 10,000 operations for that reason. A module that computes
///   without calling the host is stopped by fuel instead: without a budget of its own it gets
///   the fuel a tight loop burns in its timeout (``FuelCalibration``).
/// - Python needs the legacy exception-handling proposal, which WasmKit does not implement.
/// - Code sessions need an instance kept between calls; the sandbox offers them on Wasmtime.
package final class WasmKitBackend: SandboxBackend {
    package let kind = SandboxBackendKind.wasmkit
    let configuration: SandboxConfiguration
    /// Runs modules already validated: functions are translated when first called.
    let lazyEngine: Engine
    /// A module's first run translates, and so validates, every function at instantiation,
    /// so that an invalid module is `invalid_input` up front, as Wasmtime's compile makes it.
    let eagerEngine: Engine
    private let modules: Mutex<BoundedLRU<WasmKitProgram>>
    private let javascript = Mutex<Module?>(nil)
    /// Fuel per second of timeout for runs without a budget of their own: the configured
    /// figure, or measured here, before any run (measured inside a run, it would spend that
    /// run's time).
    let fuelPerSecond: UInt64

    /// The proposals modules may use: WasmKit's defaults without exception handling. Its
    /// exception objects live in host memory outside the memory cap (a table of caught
    /// exceptions would hold gigabytes), and the one engine that needs them, Python's, cannot
    /// run here anyway. Memory64, multiple memories, threads and GC stay off, as on Wasmtime.
    static let features: WasmFeatureSet = [.referenceTypes]

    package init(configuration: SandboxConfiguration) throws(SandboxError) {
        self.configuration = configuration
        func engine(_ mode: EngineConfiguration.CompilationMode) -> Engine {
            // Metering always: it is how a guest that never calls the host is stopped.
            Engine(
                configuration: EngineConfiguration(
                    compilationMode: mode, stackSize: configuration.maxWasmStackBytes, fuelMetering: true))
        }
        lazyEngine = engine(.lazy)
        eagerEngine = engine(.eager)
        fuelPerSecond = configuration.wasmKitFuelPerSecond ?? FuelCalibration.unitsPerSecond(engine: lazyEngine)
        modules = Mutex(
            BoundedLRU(capacity: configuration.moduleCacheCapacity, byteCapacity: configuration.moduleCacheBytes))
    }

    package func run(_ request: ExecutionRequest, limits: ExecutionLimits, state: RunState) throws(SandboxError)
        -> ExecutionResult
    {
        let program = try prepare(request)
        if var refusal = program.refusal {
            refusal.files = request.workspace?.files()
            return refusal
        }
        var execution = WasmKitExecution(
            backend: self, program: program, request: request, limits: limits, state: state)
        if program.kind == .module, !program.validated {
            execution.validated = { refusal in
                self.modules.withLock {
                    $0.update(program.key) {
                        $0.validated = refusal == nil
                        $0.refusal = refusal
                    }
                }
            }
        }
        return try execution()
    }

    /// The module to instantiate for a request, and how to drive it.
    private func prepare(_ request: ExecutionRequest) throws(SandboxError) -> WasmKitProgram {
        try configuration.checkProgram(request)
        switch request.input {
        case .wasm(let bytes):
            try configuration.checkModule(request.input)
            return try module(bytes: bytes, key: Array(SHA256.hash(data: bytes)))
        case .wat(let text):
            try configuration.checkModule(request.input)
            let key = Array(SHA256.hash(data: Array("wat\0\(text)".utf8)))
            if let cached = modules.withLock({ $0.lookUp(key) }) { return cached }
            try WATNesting.check(text)
            let bytes: [UInt8]
            do {
                bytes = try wat2wasm(text, features: Self.features)
            } catch {
                throw SandboxError("invalid WAT: \(String(describing: error).prefix(2048))")
            }
            return try module(bytes: bytes, key: key)
        case .javascript(let source):
            try configuration.checkSource(source, language: "JavaScript")
            return WasmKitProgram(
                module: try javascriptModule(), key: [], kind: .javascript, validated: true, fuelDivisor: 1)
        case .python(let source):
            try configuration.checkSource(source, language: "Python")
            throw SandboxError(pythonRefusalMessage())
        }
    }

    private func module(bytes: [UInt8], key: [UInt8]) throws(SandboxError) -> WasmKitProgram {
        if let cached = modules.withLock({ $0.lookUp(key) }) { return cached }
        let bounds = try ModuleBounds(checking: bytes)
        try TranslationCost.check(bounds.module, features: Self.features)
        let module: Module
        do {
            module = try parseWasm(bytes: bounds.module, features: Self.features)
        } catch {
            throw SandboxError("invalid WebAssembly module: \(String(describing: error).prefix(2048))")
        }
        let program = WasmKitProgram(
            module: module, key: key, kind: .module, validated: false, fuelDivisor: bounds.fuelDivisor)
        modules.withLock { $0.insert(program, key: key, bytes: bytes.count + bounds.expandedBytes) }
        return program
    }

    private func javascriptModule() throws(SandboxError) -> Module {
        try javascript.withLock { (cached: inout Module?) throws(SandboxError) -> Module in
            if let cached { return cached }
            guard let file = configuration.javascriptEngine else {
                throw SandboxError(
                    "the JavaScript engine is not installed: run scripts/setup.sh or set SandboxConfiguration.javascriptEngine",
                    kind: .internalError)
            }
            do {
                let bytes = try [UInt8](Data(contentsOf: file))
                let module = try parseWasm(bytes: bytes, features: Self.features)
                cached = module
                return module
            } catch {
                throw SandboxError(
                    "cannot load the JavaScript engine \(file.path) into WasmKit: \(error)", kind: .internalError)
            }
        }
    }

    /// WasmKit's own refusal of the exception-handling instructions CPython's build uses,
    /// asked once per process: why Python is `invalid_input` here.
    private static let legacyExceptionHandling = legacyExceptionHandlingRefusal(
        engine: Engine(configuration: EngineConfiguration(compilationMode: .eager)))

    private func pythonRefusalMessage() -> String {
        guard let found = Self.legacyExceptionHandling else {
            return
                "Python is not available on the wasmkit backend: this sandbox's Python engine is driven only by Wasmtime; run it with --backend wasmtime"
        }
        return
            "Python needs WebAssembly's legacy exception-handling proposal (try/catch, opcode 0x06), which WasmKit does not implement (\(found)): run Python with the wasmtime backend"
    }

    /// WasmKit's error for a function using a legacy `try`/`catch`, or nil if it accepts it.
    static func legacyExceptionHandlingRefusal(engine: Engine) -> String? {
        // (module (type (func)) (tag (type 0)) (func (try (do) (catch 0))))
        let probe: [UInt8] = [
            0x00, 0x61, 0x73, 0x6D, 0x01, 0x00, 0x00, 0x00,
            0x01, 0x04, 0x01, 0x60, 0x00, 0x00,  // type section: () -> ()
            0x03, 0x02, 0x01, 0x00,  // function section
            0x0D, 0x03, 0x01, 0x00, 0x00,  // tag section
            0x0A, 0x09, 0x01, 0x07, 0x00, 0x06, 0x40, 0x07, 0x00, 0x0B, 0x0B,  // try (catch 0) end end
        ]
        do {
            let module = try parseWasm(bytes: probe)
            _ = try module.instantiate(store: Store(engine: engine))
            return nil
        } catch {
            return String(String(describing: error).prefix(while: { $0 != "\n" }).prefix(200))
        }
    }
}

/// A parsed module and how a run drives it.
struct WasmKitProgram: Sendable {
    enum Kind: Sendable { case module, javascript }
    let module: Module
    let key: [UInt8]
    let kind: Kind
    /// Whether a run already instantiated it eagerly, which validated every function.
    var validated: Bool
    /// Why the module can never be instantiated, once a run found out: later runs answer it.
    var refusal: ExecutionResult?
    /// Divides the fuel allowance per second of timeout (``ModuleBounds/fuelDivisor``).
    let fuelDivisor: UInt64

    /// `argv[0]`: the request's own for a module; the JavaScript engine's name for its
    /// scripts, as on Wasmtime.
    func programName(for request: ExecutionRequest) -> String {
        kind == .javascript ? "script.js" : request.programName
    }
}
