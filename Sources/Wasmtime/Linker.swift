import CWasmtime

/// Resolves module imports against WASI and host functions, for stores holding `Data`.
///
/// A linker is defined through a ``LinkerBuilder`` and frozen by ``LinkerBuilder/build()``;
/// from then on it only resolves. It is `Sendable` because Wasmtime's linker is safe to share
/// for reading: `wasmtime_linker_instantiate_pre` and `wasmtime_linker_get` take it as a
/// shared (`const`) reference, and Wasmtime's own embedding examples share one linker across
/// threads once defined. Only defining mutates it, and a frozen linker offers no way to.
public final class Linker<Data>: @unchecked Sendable {
    let raw: OpaquePointer
    /// The engine the linker belongs to.
    public let engine: Engine

    /// An empty linker; only ``LinkerBuilder`` makes one, so that definitions end before sharing.
    init(engine: Engine) {
        self.raw = wasmtime_linker_new(engine.raw)
        self.engine = engine
    }

    deinit { wasmtime_linker_delete(raw) }

    /// The definition of `module`.`name` made concrete in `store` (a host function becomes
    /// a function of that store).
    public func get(module: String, name: String, in store: Store<Data>) -> Extern? {
        var item = wasmtime_extern_t()
        guard wasmtime_linker_get(raw, store.context, module, module.utf8.count, name, name.utf8.count, &item) else {
            return nil
        }
        return Extern(item)
    }

    /// Resolves a module's imports once, so that instantiation only allocates.
    public func instantiatePre(_ module: Module) throws(WasmtimeError) -> InstancePre<Data> {
        var pre: OpaquePointer?
        try WasmtimeError.check(wasmtime_linker_instantiate_pre(raw, module.raw, &pre))
        return InstancePre(raw: pre!, module: module)
    }
}
