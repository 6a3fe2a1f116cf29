import CWasmtime

/// The view a host function has of the instance that called it. Valid only during the call.
public struct Caller<Data> {
    let raw: OpaquePointer

    init(raw: OpaquePointer) { self.raw = raw }

    /// The data of the calling store.
    public var data: Data {
        // A host function of a `Linker<Data>` enters a store only through that linker, which
        // takes only a `Store<Data>`, and Wasmtime never runs one store's function in another:
        // so the calling store's pointer is a `StoreDataBox<Data>`.
        let pointer = wasmtime_context_get_data(wasmtime_caller_context(raw))!
        return Unmanaged<StoreDataBox<Data>>.fromOpaque(pointer).takeUnretainedValue().data
    }

    /// Runs `body` over the caller's exported linear memory.
    ///
    /// - Throws: when the caller exports no memory of that name.
    public func withMemory<R>(
        named name: String = "memory",
        _ body: (UnsafeMutableRawBufferPointer) throws -> R
    ) throws -> R {
        var item = wasmtime_extern_t()
        guard wasmtime_caller_export_get(raw, name, name.utf8.count, &item),
            item.kind == WASMTIME_EXTERN_MEMORY
        else { throw WasmtimeError.error(message: "the caller exports no memory named '\(name)'") }
        let context = wasmtime_caller_context(raw)
        let base = wasmtime_memory_data(context, &item.of.memory)
        let size = wasmtime_memory_data_size(context, &item.of.memory)
        return try body(UnsafeMutableRawBufferPointer(start: base, count: size))
    }

    /// Calls a function of the caller's store from inside a host function, such as an
    /// export of a helper instance. Its traps come back as errors.
    public func call(_ function: Function, _ arguments: [Value], resultCount: Int) throws(WasmtimeError) -> [Value] {
        try callFunction(
            function.raw, in: wasmtime_caller_context(raw), arguments, resultCount: resultCount, name: "function")
    }
}
