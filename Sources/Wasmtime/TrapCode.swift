/// Why Wasm code trapped, as Wasmtime classifies instruction traps.
public enum TrapCode: UInt8, Sendable, CaseIterable {
    case stackOverflow = 0
    case memoryOutOfBounds = 1
    case heapMisaligned = 2
    case tableOutOfBounds = 3
    case indirectCallToNull = 4
    case badSignature = 5
    case integerOverflow = 6
    case integerDivisionByZero = 7
    case badConversionToInteger = 8
    case unreachableCodeReached = 9
    case interrupt = 10
    case outOfFuel = 11

    /// A stable snake_case name for results and logs.
    public var name: String {
        switch self {
        case .stackOverflow: "stack_overflow"
        case .memoryOutOfBounds: "memory_out_of_bounds"
        case .heapMisaligned: "heap_misaligned"
        case .tableOutOfBounds: "table_out_of_bounds"
        case .indirectCallToNull: "indirect_call_to_null"
        case .badSignature: "bad_signature"
        case .integerOverflow: "integer_overflow"
        case .integerDivisionByZero: "integer_division_by_zero"
        case .badConversionToInteger: "bad_conversion_to_integer"
        case .unreachableCodeReached: "unreachable"
        case .interrupt: "interrupt"
        case .outOfFuel: "out_of_fuel"
        }
    }
}
