import CWasmtime

/// The definitions of a ``Linker`` while they are being made.
///
/// Not copyable and not `Sendable`: one owner defines, then ``build()`` consumes the builder,
/// so nothing can change a linker once it is shared.
public struct LinkerBuilder<Data>: ~Copyable {
    private let linker: Linker<Data>

    /// Starts an empty linker for `engine`.
    public init(engine: Engine) { linker = Linker(engine: engine) }

    /// Lets a later definition replace an earlier one of the same name.
    public mutating func allowShadowing(_ allow: Bool) { wasmtime_linker_allow_shadowing(linker.raw, allow) }

    /// Defines WASI preview 1. Every store instantiating through the linker needs
    /// ``Store/setWASI(_:)`` first.
    public mutating func defineWASI() throws(WasmtimeError) {
        try WasmtimeError.check(wasmtime_linker_define_wasi(linker.raw))
    }

    /// Defines `module`.`name` as a host function of the given signature.
    public mutating func defineFunction(
        module: String,
        name: String,
        parameters: [ValueType],
        results: [ValueType],
        _ body: @escaping HostFunction<Data>
    ) throws(WasmtimeError) {
        let type = makeFunctionType(parameters: parameters, results: results)
        defer { wasm_functype_delete(type) }
        let box = HostFunctionBox(
            body: { caller, arguments, results in try body(Caller(raw: caller), arguments, results) },
            results: results)
        let error = wasmtime_linker_define_func(
            linker.raw, module, module.utf8.count, name, name.utf8.count, type, callHostFunction,
            Unmanaged.passRetained(box).toOpaque(),
            { Unmanaged<HostFunctionBox>.fromOpaque($0!).release() }
        )
        try WasmtimeError.check(error)
    }

    /// Freezes the definitions into a linker that can be shared across threads.
    public consuming func build() -> Linker<Data> { linker }
}
