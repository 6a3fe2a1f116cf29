import CWasmtime

/// A host function: gets the caller and arguments, returns results or throws to trap.
public typealias HostFunction = @Sendable (Caller, [Value]) throws -> [Value]

/// Resolves module imports against WASI and host functions.
///
/// Shareable across threads once defined: instantiate from many threads, redefine from none.
public final class Linker: @unchecked Sendable {
    let raw: OpaquePointer
    /// The engine the linker belongs to.
    public let engine: Engine

    public init(engine: Engine) {
        self.raw = wasmtime_linker_new(engine.raw)
        self.engine = engine
    }

    deinit { wasmtime_linker_delete(raw) }

    /// Lets a later definition replace an earlier one of the same name.
    public func allowShadowing(_ allow: Bool) { wasmtime_linker_allow_shadowing(raw, allow) }

    /// Defines WASI preview 1. Every store instantiating through this linker needs
    /// ``Store/setWASI(_:)`` first.
    public func defineWASI() throws(WasmtimeError) {
        try WasmtimeError.check(wasmtime_linker_define_wasi(raw))
    }

    /// Defines `module`.`name` as a host function of the given signature.
    public func defineFunction(
        module: String,
        name: String,
        parameters: [ValueType],
        results: [ValueType],
        _ body: @escaping HostFunction
    ) throws(WasmtimeError) {
        let type = makeFunctionType(parameters: parameters, results: results)
        defer { wasm_functype_delete(type) }
        let box = Unmanaged.passRetained(HostFunctionBox(body: body, results: results)).toOpaque()
        let error = wasmtime_linker_define_func(
            raw, module, module.utf8.count, name, name.utf8.count, type, callHostFunction, box,
            { Unmanaged<HostFunctionBox>.fromOpaque($0!).release() }
        )
        try WasmtimeError.check(error)
    }

    /// The definition of `module`.`name` made concrete in `store` (a host function becomes
    /// a function of that store).
    public func get(module: String, name: String, in store: Store) -> Extern? {
        var item = wasmtime_extern_t()
        guard wasmtime_linker_get(raw, store.context, module, module.utf8.count, name, name.utf8.count, &item) else {
            return nil
        }
        return Extern(item)
    }

    /// Resolves a module's imports once, so that instantiation only allocates.
    public func instantiatePre(_ module: Module) throws(WasmtimeError) -> InstancePre {
        var pre: OpaquePointer?
        try WasmtimeError.check(wasmtime_linker_instantiate_pre(raw, module.raw, &pre))
        return InstancePre(raw: pre!, module: module)
    }
}

private final class HostFunctionBox {
    let body: HostFunction
    let results: [ValueType]
    init(body: @escaping HostFunction, results: [ValueType]) {
        self.body = body
        self.results = results
    }
}

private func makeFunctionType(parameters: [ValueType], results: [ValueType]) -> OpaquePointer {
    func vector(_ types: [ValueType]) -> wasm_valtype_vec_t {
        var vec = wasm_valtype_vec_t()
        var items = types.map { wasm_valtype_new($0.rawValue) } + [nil]
        wasm_valtype_vec_new(&vec, types.count, &items)
        return vec
    }
    var params = vector(parameters)
    var outs = vector(results)
    return wasm_functype_new(&params, &outs)
}

private func callHostFunction(
    env: UnsafeMutableRawPointer?,
    caller: OpaquePointer?,
    args: UnsafePointer<wasmtime_val_t>?,
    nargs: Int,
    results: UnsafeMutablePointer<wasmtime_val_t>?,
    nresults: Int
) -> OpaquePointer? {
    let box = Unmanaged<HostFunctionBox>.fromOpaque(env!).takeUnretainedValue()
    let arguments = (0..<nargs).compactMap { Value(args![$0]) }
    do {
        let values = try box.body(Caller(raw: caller!), arguments)
        guard values.map(\.type) == box.results, values.count == nresults else {
            let message = "host function returned \(values.map(\.type)) instead of \(box.results)"
            return wasmtime_trap_new(message, message.utf8.count)
        }
        for (index, value) in values.enumerated() { results![index] = value.raw }
        return nil
    } catch let error as WasmtimeError where error.trapCode != nil {
        // A trap from Wasm the host function called (fuel, say) keeps its code.
        return wasmtime_trap_new_code(error.trapCode!.rawValue)
    } catch {
        let message = String(describing: error)
        return wasmtime_trap_new(message, message.utf8.count)
    }
}
