import CWasmtime

/// A WebAssembly number value passed to or returned from a host function.
public enum Value: Sendable, Hashable {
    case i32(Int32)
    case i64(Int64)
    case f32(Float)
    case f64(Double)

    /// The value's type.
    public var type: ValueType {
        switch self {
        case .i32: .i32
        case .i64: .i64
        case .f32: .f32
        case .f64: .f64
        }
    }

    init?(_ raw: wasmtime_val_t) {
        switch Int(raw.kind) {
        case Int(WASMTIME_I32): self = .i32(raw.of.i32)
        case Int(WASMTIME_I64): self = .i64(raw.of.i64)
        case Int(WASMTIME_F32): self = .f32(raw.of.f32)
        case Int(WASMTIME_F64): self = .f64(raw.of.f64)
        default: return nil
        }
    }

    var raw: wasmtime_val_t {
        var raw = wasmtime_val_t()
        raw.kind = type.rawValue
        switch self {
        case .i32(let value): raw.of.i32 = value
        case .i64(let value): raw.of.i64 = value
        case .f32(let value): raw.of.f32 = value
        case .f64(let value): raw.of.f64 = value
        }
        return raw
    }
}

/// The number types host functions use.
public enum ValueType: UInt8, Sendable, Hashable {
    case i32 = 0
    case i64 = 1
    case f32 = 2
    case f64 = 3
}
