import WasmKit

/// A WasmKit trap's reason, read without its backtrace, and the name Wasmtime gives the same
/// trap (``ExecutionResult/trap`` must not depend on the backend).
///
/// `Trap`'s only public text is its `description`, which appends the whole backtrace (about
/// 300 KB at the default interpreter stack); its `reason` is not public. The reason is read
/// through reflection, which builds no backtrace text.
struct TrapDescription {
    let reason: String
    let name: String?

    init(_ trap: Trap) {
        let reason = Mirror(reflecting: trap).children.first { $0.label == "reason" }?.value
        let text =
            reason.map { String(describing: $0) }
            ?? String(describing: trap).prefix(while: { $0 != "\n" })
            .description
        self.reason = String(text.prefix(1024))
        name = Self.names.first { text.hasPrefix($0.reason) || text.hasPrefix($0.caseName) }?.name
    }

    /// WasmKit's description of each reason, its case name, and Wasmtime's name for it.
    private static let names: [(reason: String, caseName: String, name: String)] = [
        ("unreachable", "unreachable", "unreachable"),
        ("call stack exhausted", "callStackExhausted", "stack_overflow"),
        ("out of bounds memory access", "memoryOutOfBounds", "memory_out_of_bounds"),
        ("out of bounds table access", "tableOutOfBounds", "table_out_of_bounds"),
        ("unaligned atomic", "unalignedAtomic", "heap_misaligned"),
        ("indirect call to null", "indirectCallToNull", "indirect_call_to_null"),
        ("indirect call type mismatch", "typeMismatchCall", "bad_signature"),
        ("integer divide by zero", "integerDividedByZero", "integer_division_by_zero"),
        ("integer overflow", "integerOverflow", "integer_overflow"),
        ("invalid conversion to integer", "invalidConversionToInteger", "bad_conversion_to_integer"),
        ("out of fuel", "outOfFuel", "out_of_fuel"),
        ("null function reference", "nullFunctionReference", "null_reference"),
        ("null reference", "nullReference", "null_reference"),
    ]
}
