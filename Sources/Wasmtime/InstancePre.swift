import CWasmtime

/// A module with its imports already resolved: instantiating it only allocates and runs
/// the start function. Shareable across threads, like the ``Linker`` it came from.
public final class InstancePre<Data>: @unchecked Sendable {
    let raw: OpaquePointer
    /// The module this was made from.
    public let module: Module

    init(raw: OpaquePointer, module: Module) {
        self.raw = raw
        self.module = module
    }

    deinit { wasmtime_instance_pre_delete(raw) }

    /// Creates an instance in `store`.
    public func instantiate(in store: Store<Data>) throws(WasmtimeError) -> Instance<Data> {
        var instance = wasmtime_instance_t()
        var trap: OpaquePointer?
        let error = wasmtime_instance_pre_instantiate(raw, store.context, &instance, &trap)
        try WasmtimeError.check(error, trap: trap)
        return Instance(store: store, raw: instance)
    }
}
