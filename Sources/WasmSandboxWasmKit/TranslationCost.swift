import WasmParser
import WasmSandboxCore

/// Refuses a function whose translation by WasmKit would cost far more than its size, and, on
/// debug builds, one whose value stack could pass what WasmKit's translator asserts.
///
/// WasmKit translates every function of a module on its first run (and each function a run
/// calls after that), outside the timeout. Some of that work grows faster than the bytes
/// (measured on a release build, by a hostile review): every forward branch to a label copies
/// the label's list of users (16,000 `br_table` entries to one block: 3.3 s; 65,534: past
/// 30 s); every branch walks the blocks it leaves (100,000 nested blocks and 100,000 deep
/// branches, 0.9 MB: 11.7 s); every `local.set` scans the value stack (200,000 values and
/// 200,000 sets: 16.8 s); every branch entry copies its target's results (10,000 entries of
/// 1,000 results: 549 MB). One pass over each function bounds each of those sums, and the
/// value stack, whose assertion `valueHeight < UInt16.max` a debug build of WasmKit checks
/// (seventy blocks of a thousand results ended the process with SIGILL).
///
/// The height is bounded from above: every instruction's pops are counted low (none for the
/// few it does not know) and its pushes high, and at a block's `end` the height goes back to
/// what the block leaves. Valid functions stay far below each bound: WasmKit refuses a frame
/// of more than 4,095 slots anyway.
enum TranslationCost {
    static let maxHeight = 8_192
    /// Blocks open at once: WasmKit's translator keeps a frame of some 200 bytes for each
    /// (3M nested blocks in 9 MB: 665 MB).
    static let maxDepth = 1 << 16
    /// Forward branches (and `br_table` entries) to one label.
    static let maxLabelUses = 4_096
    /// Blocks left by all branches of a function, summed.
    static let maxBranchDepths = 1 << 24
    /// Values copied by all branches of a function, summed.
    static let maxBranchValues = 1 << 22
    /// Value-stack entries scanned by all `local.set`/`local.tee` of a function, summed.
    static let maxLocalSetScans = 1 << 27

    static func check(_ bytes: [UInt8], features: WasmFeatureSet) throws(SandboxError) {
        do {
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
        }
    }
}

/// The upper bound on one function's value stack, instruction by instruction.
private struct HeightBound: AnyInstructionVisitor {
    typealias VisitorError = SandboxError
    var binaryOffset = 0
    let types: [(parameters: Int, results: Int)]
    let functions: [UInt32]
    private var height = 0
    /// Open blocks: the height below each one's values, how many it takes and leaves, whether
    /// it is a loop (branched to at its start), and how many branches target its end.
    private var blocks: [(base: Int, parameters: Int, results: Int, loop: Bool, uses: Int)] = []
    private var branchDepths = 0
    private var branchValues = 0
    private var localSetScans = 0

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
        guard height <= TranslationCost.maxHeight else {
            throw refusal("can hold more than \(TranslationCost.maxHeight) values on its stack")
        }
    }

    /// A branch `depth` blocks out: the blocks it leaves, the values it carries, and one more
    /// user of its label when that is a block's end.
    private mutating func branch(to depth: UInt32) throws(SandboxError) {
        let depth = Int(depth)
        branchDepths += depth
        guard depth < blocks.count else { return }  // the function's own end: a return
        let index = blocks.count - 1 - depth
        branchValues += blocks[index].loop ? blocks[index].parameters : blocks[index].results
        if !blocks[index].loop { blocks[index].uses += 1 }
        guard branchDepths <= TranslationCost.maxBranchDepths, branchValues <= TranslationCost.maxBranchValues,
            blocks[index].uses <= TranslationCost.maxLabelUses
        else { throw refusal("branches so much that translating it would take too long") }
    }

    private func refusal(_ what: String) -> SandboxError {
        SandboxError(
            "a function of the module \(what) on the wasmkit backend (the bounds: \(TranslationCost.maxHeight) values, \(TranslationCost.maxLabelUses) branches to one label, \(TranslationCost.maxBranchDepths) blocks left and \(TranslationCost.maxBranchValues) values carried by all branches)"
        )
    }

    mutating func visit(_ instruction: Instruction) throws(SandboxError) {
        switch instruction {
        case .block(let type), .loop(let type):
            let arity = arity(of: type)
            try apply(pop: arity.parameters, push: 0)
            let loop = if case .loop = instruction { true } else { false }
            blocks.append((height, arity.parameters, arity.results, loop, 0))
            guard blocks.count <= TranslationCost.maxDepth else {
                throw refusal("nests more than \(TranslationCost.maxDepth) blocks")
            }
            try apply(pop: 0, push: arity.parameters)
        case .if(let type):
            let arity = arity(of: type)
            try apply(pop: 1 + arity.parameters, push: 0)
            blocks.append((height, arity.parameters, arity.results, false, 0))
            guard blocks.count <= TranslationCost.maxDepth else {
                throw refusal("nests more than \(TranslationCost.maxDepth) blocks")
            }
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
        case .br(let depth):
            try branch(to: depth)
        case .brIf(let depth):
            try branch(to: depth)
            try apply(pop: 1, push: 0)
        case .brTable(let targets):
            for depth in targets.labelIndices + [targets.defaultIndex] { try branch(to: depth) }
        case .return:
            try branch(to: UInt32(blocks.count))
        case .localSet, .localTee:
            localSetScans += height
            guard localSetScans <= TranslationCost.maxLocalSetScans else {
                throw refusal("sets locals over a value stack so deep that translating it would take too long")
            }
            if case .localSet = instruction { try apply(pop: 1, push: 0) } else { try apply(pop: 1, push: 1) }
        case .unreachable, .returnCall, .returnCallIndirect, .nop, .refAsNonNull, .dataDrop, .elemDrop:
            return
        case .drop, .globalSet:
            try apply(pop: 1, push: 0)
        case .select, .typedSelect:
            try apply(pop: 3, push: 1)
        case .store, .tableSet:
            try apply(pop: 2, push: 0)
        case .cmp, .binary, .tableGrow:
            try apply(pop: 2, push: 1)
        case .memoryInit, .memoryCopy, .memoryFill, .tableInit, .tableCopy, .tableFill:
            try apply(pop: 3, push: 0)
        case .load, .memoryGrow, .i32Eqz, .i64Eqz, .unary, .conversion, .refIsNull, .tableGet, .simd,
            .simdLane, .simdMemLane, .i8x16Shuffle:
            try apply(pop: 1, push: 1)
        default:
            // Constants, local and global reads, sizes, references: one value, none taken.
            try apply(pop: 0, push: 1)
        }
    }
}
