import CWasmtime

/// A host function: reads its arguments, writes its results, or throws to trap the guest.
///
/// Called on whichever thread runs the calling store, so it must be `Sendable`. The caller,
/// arguments and results are views of Wasmtime's own buffers, valid only during the call:
/// a call allocates nothing unless the function does.
public typealias HostFunction<Data> = @Sendable (Caller<Data>, HostArguments, HostResults) throws -> Void

/// The arguments of one host call, read in place.
///
/// Every read is checked against the declared parameters: an index or type a function did
/// not declare throws (trapping the guest) instead of reading past Wasmtime's buffer.
public struct HostArguments {
    private let base: UnsafePointer<wasmtime_val_t>?
    /// How many parameters the function declared.
    public let count: Int

    init(base: UnsafePointer<wasmtime_val_t>?, count: Int) {
        self.base = base
        self.count = count
    }

    /// The `i32` argument at `index`.
    public func i32(at index: Int) throws(WasmtimeError) -> Int32 { try raw(at: index, .i32).of.i32 }

    /// The `i64` argument at `index`.
    public func i64(at index: Int) throws(WasmtimeError) -> Int64 { try raw(at: index, .i64).of.i64 }

    /// The `f32` argument at `index`.
    public func f32(at index: Int) throws(WasmtimeError) -> Float { try raw(at: index, .f32).of.f32 }

    /// The `f64` argument at `index`.
    public func f64(at index: Int) throws(WasmtimeError) -> Double { try raw(at: index, .f64).of.f64 }

    /// The argument at `index`, whatever its type.
    public func value(at index: Int) throws(WasmtimeError) -> Value {
        guard let value = Value(try raw(at: index, nil)) else {
            throw .error(message: "host function argument \(index) is not a number")
        }
        return value
    }

    private func raw(at index: Int, _ type: ValueType?) throws(WasmtimeError) -> wasmtime_val_t {
        guard index >= 0, index < count, let base else {
            throw .error(message: "host function read argument \(index) of \(count)")
        }
        let value = base[index]
        if let type, value.kind != type.rawValue {
            throw .error(message: "host function read argument \(index) as \(type), but it is not")
        }
        return value
    }
}

/// Where one host call writes its results, in place.
///
/// Each result must be set once with its declared type; a result left unset traps the guest
/// when the function returns, so Wasmtime never sees a value the signature does not allow.
public struct HostResults {
    private let base: UnsafeMutablePointer<wasmtime_val_t>?
    private let types: [ValueType]

    init(base: UnsafeMutablePointer<wasmtime_val_t>?, types: [ValueType]) {
        self.base = base
        self.types = types
    }

    /// How many results the function declared.
    public var count: Int { types.count }

    /// Sets the result at `index`.
    ///
    /// - Throws: when the function declared no result there, or one of another type.
    public func set(_ value: Value, at index: Int) throws(WasmtimeError) {
        guard index >= 0, index < count, let base else {
            throw .error(message: "host function set result \(index) of \(count)")
        }
        guard value.type == types[index] else {
            throw .error(message: "host function set result \(index) to \(value.type) instead of \(types[index])")
        }
        base[index] = value.raw
    }
}

/// What Wasmtime keeps of a host function: the body with its store's data type erased
/// (the trampoline is a C function and cannot be generic) and the declared results.
final class HostFunctionBox: Sendable {
    let body: @Sendable (OpaquePointer, HostArguments, HostResults) throws -> Void
    let results: [ValueType]

    init(body: @escaping @Sendable (OpaquePointer, HostArguments, HostResults) throws -> Void, results: [ValueType]) {
        self.body = body
        self.results = results
    }
}

/// A kind no value has: marks results the host function has not set yet.
private let unsetKind: wasmtime_valkind_t = .max

/// The C callback behind every host function.
func callHostFunction(
    env: UnsafeMutableRawPointer?,
    caller: OpaquePointer?,
    args: UnsafePointer<wasmtime_val_t>?,
    nargs: Int,
    results: UnsafeMutablePointer<wasmtime_val_t>?,
    nresults: Int
) -> OpaquePointer? {
    let box = Unmanaged<HostFunctionBox>.fromOpaque(env!).takeUnretainedValue()
    // Wasmtime checked the call against the declared signature, so the counts match it.
    for index in 0..<nresults { results![index].kind = unsetKind }
    do {
        try box.body(caller!, HostArguments(base: args, count: nargs), HostResults(base: results, types: box.results))
    } catch WasmtimeError.trap(let code?, _) {
        // A trap from Wasm the host function called (fuel, say) keeps its code.
        return wasmtime_trap_new_code(code.rawValue)
    } catch {
        let message = String(describing: error)
        return wasmtime_trap_new(message, message.utf8.count)
    }
    for index in 0..<nresults where results![index].kind == unsetKind {
        let message = "host function set no result \(index) of \(box.results)"
        return wasmtime_trap_new(message, message.utf8.count)
    }
    return nil
}

/// A Wasm function type; the caller owns the result.
func makeFunctionType(parameters: [ValueType], results: [ValueType]) -> OpaquePointer {
    func vector(_ types: [ValueType]) -> wasm_valtype_vec_t {
        var vec = wasm_valtype_vec_t()
        var items = types.map { wasm_valtype_new($0.rawValue) } + [nil]
        wasm_valtype_vec_new(&vec, types.count, &items)
        return vec
    }
    var params = vector(parameters)
    var outs = vector(results)
    return wasm_functype_new(&params, &outs)
}
