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
/// `Data` is what host functions called from this store see as ``Caller/data``. Linkers and
/// instances carry the same type, so a host function can only ever be called from a store
/// whose data it expects, and reaching the data needs no cast.
///
/// Not thread-safe: use a store from one thread at a time. Every execution gets its own.
public final class Store<Data> {
    let raw: OpaquePointer
    let context: OpaquePointer
    /// The engine the store belongs to; kept alive as long as the store.
    public let engine: Engine
    private let box: StoreDataBox<Data>

    /// Creates a store whose host functions see `data`.
    public init(engine: Engine, data: Data) {
        box = StoreDataBox(data)
        // Wasmtime keeps its own reference to the box, released when the store is deleted,
        // so the data outlives every host call even while the store is being torn down.
        self.raw = wasmtime_store_new(engine.raw, Unmanaged.passRetained(box).toOpaque()) { pointer in
            if let pointer { Unmanaged<AnyObject>.fromOpaque(pointer).release() }
        }
        self.context = wasmtime_store_context(raw)
        self.engine = engine
    }

    /// The data host functions see.
    public var data: Data { box.data }

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

extension Store where Data == Void {
    /// Creates a store for modules whose host functions need no data.
    public convenience init(engine: Engine) { self.init(engine: engine, data: ()) }
}

/// Holds a store's data where Wasmtime's untyped store pointer can reach it.
final class StoreDataBox<Data> {
    let data: Data
    init(_ data: Data) { self.data = data }
}

private final class EpochHandlerBox {
    let handler: () -> EpochDeadlineAction
    init(_ handler: @escaping () -> EpochDeadlineAction) { self.handler = handler }
}
