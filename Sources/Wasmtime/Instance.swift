import CWasmtime

/// An instantiated module, living in one store.
public struct Instance<Data> {
    /// The store the instance lives in.
    public let store: Store<Data>
    var raw: wasmtime_instance_t

    init(store: Store<Data>, raw: wasmtime_instance_t) {
        self.store = store
        self.raw = raw
    }

    /// Instantiates `module` with `imports` given in the order the module declares them.
    public init(store: Store<Data>, module: Module, imports: [Extern]) throws(WasmtimeError) {
        var instance = wasmtime_instance_t()
        var trap: OpaquePointer?
        let items = imports.map(\.raw)
        let error = items.withUnsafeBufferPointer {
            wasmtime_instance_new(store.context, module.raw, $0.baseAddress, $0.count, &instance, &trap)
        }
        try WasmtimeError.check(error, trap: trap)
        self.init(store: store, raw: instance)
    }

    /// The function or memory exported under `name`.
    public func export(_ name: String) -> Extern? {
        var item = wasmtime_extern_t()
        return export(name, into: &item) ? Extern(item) : nil
    }

    /// Calls an exported function that takes and returns nothing, such as WASI's `_start`.
    ///
    /// - Throws: the trap, the error of a host function, or WASI's exit
    ///   (``WasmtimeError/exit(status:message:)``).
    public func call(_ name: String) throws(WasmtimeError) {
        var item = wasmtime_extern_t()
        guard export(name, into: &item), item.kind == WASMTIME_EXTERN_FUNC else {
            throw WasmtimeError.error(message: "the module exports no function named '\(name)'")
        }
        var trap: OpaquePointer?
        let error = wasmtime_func_call(store.context, &item.of.func, nil, 0, nil, 0, &trap)
        try WasmtimeError.check(error, trap: trap)
    }

    /// Calls an exported function with number arguments and returns its results.
    ///
    /// - Throws: as ``call(_:)``, and when the export is missing or its results are not
    ///   numbers.
    public func call(_ name: String, _ arguments: [Value], resultCount: Int) throws(WasmtimeError) -> [Value] {
        var item = wasmtime_extern_t()
        guard export(name, into: &item), item.kind == WASMTIME_EXTERN_FUNC else {
            throw WasmtimeError.error(message: "the module exports no function named '\(name)'")
        }
        return try callFunction(item.of.func, in: store.context, arguments, resultCount: resultCount, name: name)
    }

    /// Copies `bytes` into an exported memory at `offset`.
    ///
    /// - Throws: when there is no such memory or the bytes would not fit inside it.
    public func write(_ bytes: [UInt8], at offset: Int, memory name: String = "memory") throws(WasmtimeError) {
        var item = wasmtime_extern_t()
        guard export(name, into: &item), item.kind == WASMTIME_EXTERN_MEMORY else {
            throw WasmtimeError.error(message: "the module exports no memory named '\(name)'")
        }
        let size = wasmtime_memory_data_size(store.context, &item.of.memory)
        guard offset >= 0, offset <= size, bytes.count <= size - offset else {
            throw WasmtimeError.error(
                message: "\(bytes.count) bytes at offset \(offset) do not fit in a memory of \(size) bytes")
        }
        let base = wasmtime_memory_data(store.context, &item.of.memory)!
        bytes.withUnsafeBytes {
            UnsafeMutableRawPointer(base + offset).copyMemory(from: $0.baseAddress!, byteCount: $0.count)
        }
    }

    /// The current byte size of an exported memory, or `nil` when there is none. Memories
    /// never shrink, so after a run this is also their peak.
    public func memorySize(_ name: String = "memory") -> Int? {
        var item = wasmtime_extern_t()
        guard export(name, into: &item), item.kind == WASMTIME_EXTERN_MEMORY else { return nil }
        return wasmtime_memory_data_size(store.context, &item.of.memory)
    }

    private func export(_ name: String, into item: inout wasmtime_extern_t) -> Bool {
        var instance = raw
        return wasmtime_instance_export_get(store.context, &instance, name, name.utf8.count, &item)
    }
}
