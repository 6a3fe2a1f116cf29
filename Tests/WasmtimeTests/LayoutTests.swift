import CWasmtime
import Testing

/// The C structs we declare must match libwasmtime's layout exactly, or calls corrupt memory.
/// This build has GC on, so values and externs carry the 24-byte GC reference members.
@Suite("C layouts match Wasmtime 50 with GC")
struct LayoutTests {
    @Test func valueLayout() {
        #expect(MemoryLayout<wasmtime_val_t>.size == 32)
        #expect(MemoryLayout<wasmtime_valunion_t>.size == 24)
        #expect(MemoryLayout<wasmtime_val_t>.offset(of: \.of) == 8)
    }

    @Test func externLayout() {
        #expect(MemoryLayout<wasmtime_extern_t>.size == 32)
        #expect(MemoryLayout<wasmtime_extern_t>.offset(of: \.of) == 8)
        #expect(MemoryLayout<wasmtime_func_t>.size == 16)
        #expect(MemoryLayout<wasmtime_memory_t>.size == 24)
        #expect(MemoryLayout<wasmtime_memory_t>.offset(of: \.__private2) == 16)
        #expect(MemoryLayout<wasmtime_instance_t>.size == 16)
    }

    @Test func vectorLayout() {
        #expect(MemoryLayout<wasm_byte_vec_t>.size == 16)
        #expect(MemoryLayout<wasm_byte_vec_t>.offset(of: \.data) == 8)
    }
}
