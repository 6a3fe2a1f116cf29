import WasmParser
import WasmSandboxCore

/// Refuses, on debug builds, a function whose value stack could pass what WasmKit's
/// translator asserts it never does.
///
/// The translator checks `valueHeight < UInt16.max` with `assert` when it pushes an operation's
/// result: a function pushing 70,000 values (seventy blocks of a thousand results each, in
/// 140 KB) ended the process of a debug build with SIGILL. A release build compiles the
/// assertion out and refuses such a function at its end, since the interpreter's frames hold
/// at most 4,095 slots; so the scan runs only where the assertion does.
///
/// The height is bounded from above in one pass over each function: every instruction's pops
/// are counted low (none for the few it does not know) and its pushes high, and at a block's
/// `end` the height goes back to what the block leaves. Valid functions that WasmKit accepts
/// stay below 4,096, far under the bound.
enum ValueStackBound {
    static let maxHeight = 60_000

    static func check(_ bytes: [UInt8], features: WasmFeatureSet) throws(SandboxError) {
        #if DEBUG
            var parser = Parser(bytes: bytes, features: features)
            var types: [(parameters: Int, results: Int)] = []
            var functions: [UInt32] = []
            while let payload = try? parser.parseNext() {
                switch payload {
                case .typeSection(let groups):
                    for group in groups {
                        for type in group.types {
                            guard case .function(let function) = type.body else {
                                types.append((0, 0))
                                continue
                            }
                            types.append((function.parameters.count, function.results.count))
                        }
                    }
                case .importSection(let imports):
                    for entry in imports { if case .function(let type) = entry.descriptor { functions.append(type) } }
                case .functionSection(let declared):
                    functions += declared
                case .codeSection(let codes):
                    for code in codes {
                        var bound = HeightBound(types: types, functions: functions)
                        var expression = ExpressionParser(code: code)
                        while let visit = try? expression.parse() {
                            try visit(visitor: &bound)
                        }
                    }
                default:
                    continue
                }
            }
        #endif
    }
}

/// The upper bound on one function's value stack, instruction by instruction.
private struct HeightBound: AnyInstructionVisitor {
    typealias VisitorError = SandboxError
    var binaryOffset = 0
    let types: [(parameters: Int, results: Int)]
    let functions: [UInt32]
    private var height = 0
    /// Open blocks: the height below each one's values, how many it takes and leaves.
    private var blocks: [(base: Int, parameters: Int, results: Int)] = []

    init(types: [(parameters: Int, results: Int)], functions: [UInt32]) {
        self.types = types
        self.functions = functions
    }

    private func arity(_ type: UInt32) -> (parameters: Int, results: Int) {
        Int(type) < types.count ? types[Int(type)] : (0, 0)
    }

    private func arity(of block: BlockType) -> (parameters: Int, results: Int) {
        switch block {
        case .empty: (0, 0)
        case .type: (0, 1)
        case .funcType(let type): arity(type)
        }
    }

    private mutating func apply(pop: Int, push: Int) throws(SandboxError) {
        height = max(height - pop, blocks.last?.base ?? 0) + push
        guard height <= ValueStackBound.maxHeight else {
            throw SandboxError(
                "a function of the module can hold more than \(ValueStackBound.maxHeight) values on its stack, more than this debug build of WasmKit translates"
            )
        }
    }

    mutating func visit(_ instruction: Instruction) throws(SandboxError) {
        switch instruction {
        case .block(let type), .loop(let type):
            let arity = arity(of: type)
            try apply(pop: arity.parameters, push: 0)
            blocks.append((height, arity.parameters, arity.results))
            try apply(pop: 0, push: arity.parameters)
        case .if(let type):
            let arity = arity(of: type)
            try apply(pop: 1 + arity.parameters, push: 0)
            blocks.append((height, arity.parameters, arity.results))
            try apply(pop: 0, push: arity.parameters)
        case .else:
            // The else arm starts again from the block's parameters.
            guard let block = blocks.last else { return }
            height = block.base
            try apply(pop: 0, push: block.parameters)
        case .end:
            guard let block = blocks.popLast() else { return }
            height = block.base
            try apply(pop: 0, push: block.results)
        case .call(let function):
            let arity = Int(function) < functions.count ? arity(functions[Int(function)]) : (parameters: 0, results: 0)
            try apply(pop: arity.parameters, push: arity.results)
        case .callIndirect(let type, _):
            let arity = arity(type)
            try apply(pop: 1 + arity.parameters, push: arity.results)
        case .br, .brTable, .return, .unreachable, .returnCall, .returnCallIndirect, .nop, .refAsNonNull,
            .dataDrop, .elemDrop:
            return
        case .brIf, .drop, .localSet, .globalSet:
            try apply(pop: 1, push: 0)
        case .select, .typedSelect:
            try apply(pop: 3, push: 1)
        case .store, .tableSet:
            try apply(pop: 2, push: 0)
        case .cmp, .binary, .tableGrow:
            try apply(pop: 2, push: 1)
        case .memoryInit, .memoryCopy, .memoryFill, .tableInit, .tableCopy, .tableFill:
            try apply(pop: 3, push: 0)
        case .localTee, .load, .memoryGrow, .i32Eqz, .i64Eqz, .unary, .conversion, .refIsNull, .tableGet, .simd,
            .simdLane, .simdMemLane, .i8x16Shuffle:
            try apply(pop: 1, push: 1)
        default:
            // Constants, local and global reads, sizes, references: one value, none taken.
            try apply(pop: 0, push: 1)
        }
    }
}
