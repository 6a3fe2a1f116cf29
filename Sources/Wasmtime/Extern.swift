import CWasmtime

/// A function living in one store: a handle, meaningful only with that store.
public struct Function {
    var raw: wasmtime_func_t
}

/// A linear memory living in one store: a handle, meaningful only with that store.
public struct Memory {
    var raw: wasmtime_memory_t
}

/// Something an instance exports or a module imports.
public enum Extern {
    case function(Function)
    case memory(Memory)

    /// `nil` for kinds the wrapper does not use (globals, tables).
    init?(_ raw: wasmtime_extern_t) {
        switch raw.kind {
        case wasmtime_extern_kind_t(WASMTIME_EXTERN_FUNC): self = .function(Function(raw: raw.of.func))
        case wasmtime_extern_kind_t(WASMTIME_EXTERN_MEMORY): self = .memory(Memory(raw: raw.of.memory))
        default: return nil
        }
    }

    var raw: wasmtime_extern_t {
        var item = wasmtime_extern_t()
        switch self {
        case .function(let function):
            item.kind = wasmtime_extern_kind_t(WASMTIME_EXTERN_FUNC)
            item.of.func = function.raw
        case .memory(let memory):
            item.kind = wasmtime_extern_kind_t(WASMTIME_EXTERN_MEMORY)
            item.of.memory = memory.raw
        }
        return item
    }
}
