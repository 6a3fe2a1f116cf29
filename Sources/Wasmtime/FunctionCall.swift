import CWasmtime

/// Calls `function` in `context` with number arguments; its traps and errors are thrown.
/// Shared by ``Instance`` (a call from the host) and ``Caller`` (a call from a host function).
func callFunction(
    _ function: wasmtime_func_t, in context: OpaquePointer, _ arguments: [Value], resultCount: Int, name: String
) throws(WasmtimeError) -> [Value] {
    var function = function
    let args = arguments.map(\.raw)
    var results = [wasmtime_val_t](repeating: wasmtime_val_t(), count: resultCount)
    var trap: OpaquePointer?
    let error = args.withUnsafeBufferPointer { args in
        results.withUnsafeMutableBufferPointer { results in
            wasmtime_func_call(
                context, &function, args.baseAddress, args.count, results.baseAddress, results.count, &trap)
        }
    }
    try WasmtimeError.check(error, trap: trap)
    let values = results.compactMap(Value.init)
    guard values.count == resultCount else {
        throw WasmtimeError.error(message: "'\(name)' returned values that are not numbers")
    }
    return values
}
