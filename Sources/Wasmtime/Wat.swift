import CWasmtime

/// Translates WebAssembly text format into a binary module.
public func wat2wasm(_ text: String) throws(WasmtimeError) -> [UInt8] {
    var utf8 = Array(text.utf8)
    var out = wasm_byte_vec_t()
    let error = utf8.withUnsafeMutableBytes { raw in
        wasmtime_wat2wasm(raw.baseAddress?.assumingMemoryBound(to: CChar.self), raw.count, &out)
    }
    try WasmtimeError.check(error)
    return consumeByteVec(&out)
}
