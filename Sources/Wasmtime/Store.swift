import CWasmtime

/// What to do when a store's epoch deadline is reached.
public enum EpochDeadlineAction: Sendable {
    /// Keep running and check again after this many more epoch ticks.
    case `continue`(ticks: UInt64)
    /// Stop the running Wasm with an error carrying this message.
    case interrupt(message: String)
}

/// A store: the home of one group of instances and their memories, fuel and deadline.
///
/// Not thread-safe: use a store from one thread at a time. Every execution gets its own.
public final class Store {
    let raw: OpaquePointer
    let context: OpaquePointer
    /// The engine the store belongs to; kept alive as long as the store.
    public let engine: Engine

    /// Creates a store. `data` is retained for the store's lifetime and reachable from host
    /// functions through ``Caller/storeData``.
    public init(engine: Engine, data: AnyObject? = nil) {
        let opaque = data.map { Unmanaged.passRetained($0).toOpaque() }
        self.raw = wasmtime_store_new(engine.raw, opaque) { pointer in
            if let pointer { Unmanaged<AnyObject>.fromOpaque(pointer).release() }
        }
        self.context = wasmtime_store_context(raw)
        self.engine = engine
    }

    deinit { wasmtime_store_delete(raw) }

    /// Sets the fuel left. Needed before running when the engine consumes fuel: a new store has none.
    public func setFuel(_ fuel: UInt64) throws(WasmtimeError) {
        try WasmtimeError.check(wasmtime_context_set_fuel(context, fuel))
    }

    /// The fuel left.
    public func fuel() throws(WasmtimeError) -> UInt64 {
        var fuel: UInt64 = 0
        try WasmtimeError.check(wasmtime_context_get_fuel(context, &fuel))
        return fuel
    }

    /// Sets the epoch deadline relative to the engine's current epoch.
    public func setEpochDeadline(ticks: UInt64) {
        wasmtime_context_set_epoch_deadline(context, ticks)
    }

    /// Calls `handler` on this store's thread whenever the epoch deadline is reached, instead
    /// of trapping at once.
    public func onEpochDeadline(_ handler: @escaping () -> EpochDeadlineAction) {
        let box = Unmanaged.passRetained(EpochHandlerBox(handler)).toOpaque()
        wasmtime_store_epoch_deadline_callback(
            raw,
            { _, env, delta, kind in
                let box = Unmanaged<EpochHandlerBox>.fromOpaque(env!).takeUnretainedValue()
                switch box.handler() {
                case .continue(let ticks):
                    delta!.pointee = ticks
                    kind!.pointee = wasmtime_update_deadline_kind_t(WASMTIME_UPDATE_DEADLINE_CONTINUE)
                    return nil
                case .interrupt(let message):
                    return wasmtime_error_new(message)
                }
            },
            box,
            { env in Unmanaged<EpochHandlerBox>.fromOpaque(env!).release() }
        )
    }

    /// Limits what instances in this store may grow to; `nil` keeps Wasmtime's default.
    /// Growth past a limit fails the way the guest sees it (`memory.grow` returns -1).
    public func limit(
        memorySize: Int? = nil,
        tableElements: Int? = nil,
        instances: Int? = nil,
        tables: Int? = nil,
        memories: Int? = nil
    ) {
        func raw(_ value: Int?) -> Int64 { value.map(Int64.init) ?? -1 }
        wasmtime_store_limiter(
            self.raw, raw(memorySize), raw(tableElements), raw(instances), raw(tables), raw(memories))
    }

    /// Gives the store its WASI context. Required before instantiating through a linker
    /// that defines WASI.
    public func setWASI(_ configuration: WASIConfiguration) throws(WasmtimeError) {
        let wasi = try configuration.makeRaw()
        try WasmtimeError.check(wasmtime_context_set_wasi(context, wasi))
    }
}

private final class EpochHandlerBox {
    let handler: () -> EpochDeadlineAction
    init(_ handler: @escaping () -> EpochDeadlineAction) { self.handler = handler }
}
