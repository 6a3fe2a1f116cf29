import CWasmtime

/// A compiled WebAssembly module. Immutable and shareable across threads and stores.
public final class Module: @unchecked Sendable {
    let raw: OpaquePointer
    /// The engine the module was compiled for; kept alive as long as the module.
    public let engine: Engine

    /// Compiles a binary module.
    public init(engine: Engine, wasm: [UInt8]) throws(WasmtimeError) {
        var module: OpaquePointer?
        let error = wasm.withUnsafeBufferPointer { wasmtime_module_new(engine.raw, $0.baseAddress, $0.count, &module) }
        try WasmtimeError.check(error)
        self.raw = module!
        self.engine = engine
    }

    /// Loads a module serialized by ``serialize()`` with an engine of the same configuration.
    ///
    /// Contiguous bytes (an array, a memory-mapped file's buffer) are read in place; others
    /// are copied first.
    ///
    /// - Important: the bytes become native code without further checks. Pass only bytes this
    ///   process or a trusted cache produced, never bytes from a user.
    public convenience init(engine: Engine, trustedSerialized bytes: some Sequence<UInt8>) throws(WasmtimeError) {
        var module: OpaquePointer?
        func deserialize(_ buffer: UnsafeBufferPointer<UInt8>) -> OpaquePointer? {
            wasmtime_module_deserialize(engine.raw, buffer.baseAddress, buffer.count, &module)
        }
        let error =
            bytes.withContiguousStorageIfAvailable(deserialize) ?? Array(bytes).withUnsafeBufferPointer(deserialize)
        try WasmtimeError.check(error)
        self.init(raw: module!, engine: engine)
    }

    /// Loads a module serialized by ``serialize()`` from a file, which Wasmtime memory-maps:
    /// pages of code are read when first run, so a large module loads in milliseconds.
    ///
    /// - Important: as with ``init(engine:trustedSerialized:)``, the file becomes native
    ///   code: only files this project wrote to a place only trusted users can write.
    public convenience init(engine: Engine, trustedSerializedFile path: String) throws(WasmtimeError) {
        var module: OpaquePointer?
        try WasmtimeError.check(wasmtime_module_deserialize_file(engine.raw, path, &module))
        self.init(raw: module!, engine: engine)
    }

    private init(raw: OpaquePointer, engine: Engine) {
        self.raw = raw
        self.engine = engine
    }

    deinit { wasmtime_module_delete(raw) }

    /// Checks that bytes are a valid module for the engine, without compiling them.
    public static func validate(engine: Engine, wasm: [UInt8]) throws(WasmtimeError) {
        let error = wasm.withUnsafeBufferPointer { wasmtime_module_validate(engine.raw, $0.baseAddress, $0.count) }
        try WasmtimeError.check(error)
    }

    /// The compiled code, for ``init(engine:trustedSerialized:)``.
    public func serialize() throws(WasmtimeError) -> [UInt8] {
        var out = wasm_byte_vec_t()
        try WasmtimeError.check(wasmtime_module_serialize(raw, &out))
        return consumeByteVec(&out)
    }

    /// The names and kinds of what the module exports.
    public var exports: [Export] {
        var vec = wasm_exporttype_vec_t()
        wasmtime_module_exports(raw, &vec)
        defer { wasm_exporttype_vec_delete(&vec) }
        return (0..<vec.size).map { index in
            let export = vec.data[index]
            let name = wasm_exporttype_name(export)!.pointee
            let type = wasm_exporttype_type(export)
            let kind = Export.Kind(rawValue: wasm_externtype_kind(type)) ?? .other
            let minimum =
                kind == .memory ? wasm_externtype_as_memorytype_const(type).map(wasmtime_memorytype_minimum) : nil
            return Export(
                name: String(decoding: UnsafeBufferPointer(start: name.data, count: name.size), as: UTF8.self),
                kind: kind, memoryMinimumPages: minimum)
        }
    }

    /// One export of a module.
    public struct Export: Sendable, Hashable {
        public var name: String
        public var kind: Kind
        /// For a memory, the pages (64 KiB) it starts with.
        public var memoryMinimumPages: UInt64? = nil

        public enum Kind: UInt8, Sendable {
            case function = 0
            case global = 1
            case table = 2
            case memory = 3
            case other = 255
        }
    }
}
