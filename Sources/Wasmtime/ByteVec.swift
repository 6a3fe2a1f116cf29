import CWasmtime

/// Copies a Wasmtime-owned byte vector into Swift memory and frees it.
func consumeByteVec(_ vec: inout wasm_byte_vec_t) -> [UInt8] {
    defer { wasm_byte_vec_delete(&vec) }
    guard vec.size > 0, let data = vec.data else { return [] }
    return Array(UnsafeBufferPointer(start: data, count: vec.size))
}

/// Decodes a Wasmtime message vector; trap messages carry a trailing NUL that is dropped.
func consumeMessage(_ vec: inout wasm_byte_vec_t) -> String {
    var bytes = consumeByteVec(&vec)
    while bytes.last == 0 { bytes.removeLast() }
    return String(decoding: bytes, as: UTF8.self)
}

/// A byte vector allocated by Wasmtime's own allocator, for calls that take ownership.
func makeOwnedByteVec(_ bytes: some Collection<UInt8>) -> wasm_byte_vec_t {
    var vec = wasm_byte_vec_t()
    wasm_byte_vec_new_uninitialized(&vec, bytes.count)
    if bytes.count > 0 {
        _ = UnsafeMutableBufferPointer(start: vec.data, count: bytes.count).initialize(from: bytes)
    }
    return vec
}
