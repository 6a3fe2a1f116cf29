import WasmSandboxCore

/// Counts a module's bytes promise before WasmKit parses them, and refuses a module whose
/// counts would cost the host far more than its size.
///
/// WasmKit's parser expands what the binary format writes compactly: one local declaration
/// `(99,999 × i32)` becomes 99,999 stored locals, each element-segment entry becomes an
/// expression of its own. Measured before this check: a 16 KB module of 2,000 functions
/// with 99,999 locals each took 3.9 GB of host memory and 113 s to load; an element segment
/// of 30M entries took 3.1 GB. None of that is guest memory, so the memory cap never saw
/// it. Wasmtime's validator refuses the same modules with similar bounds (50,000 locals per
/// function, a million functions or globals); the scan here reads only counts and skips
/// everything else, so it costs one pass over the bytes and no allocation.
struct ModuleBounds {
    static let maxLocalsPerFunction = 50_000
    /// Locals of all functions together: what the parser stores, some 20 bytes each.
    static let maxLocals = 1 << 22
    /// Element-segment entries of all segments together: a table holds at most
    /// ``TableBounds/maxElements``, so more could never be used.
    static let maxElementEntries = TableBounds.maxElements
    /// Instructions in all constant expressions together (global initialisers, segment
    /// offsets, element entries): WasmKit stores each as an instruction value, tens of bytes.
    static let maxConstantInstructions = 1 << 21
    static let maxItemsPerSection = 1_000_000

    /// An estimate of the host memory the parsed module holds beyond its bytes, for the
    /// module cache's accounting.
    private(set) var expandedBytes = 0
    /// The most locals one function declares. WasmKit charges a call one unit of fuel but
    /// clears the callee's locals first: measured on a release build, a loop calling a
    /// function of 4,000 locals ran 150 times slower per unit than a tight loop, so the fuel
    /// allowance of such a module is divided by ``fuelDivisor``.
    private(set) var maxFunctionLocals = 0
    private var locals = 0
    private var elementEntries = 0
    private var constantInstructions = 0

    /// By how much the fuel allowance per second is divided: 1 up to 64 locals a function
    /// (a call then costs at most a few times its fuel), then in proportion, which keeps a
    /// call-heavy loop within a few timeouts (measured: 4,000 and 50,000 locals, 5x).
    var fuelDivisor: UInt64 { UInt64(max(1, maxFunctionLocals / 64)) }

    /// Scans `bytes`; a module that is not well formed enough to scan is left to WasmKit's
    /// parser, which names what is wrong with it.
    init(checking bytes: [UInt8]) throws(SandboxError) {
        var reader = ByteReader(bytes: bytes[...])
        guard reader.skip(8) else { return }
        while !reader.isAtEnd {
            guard let id = reader.byte(), let size = reader.leb(), var section = reader.take(size) else { break }
            guard [1, 2, 3, 4, 5, 6, 7, 9, 10, 11, 13].contains(id), let count = section.leb() else { continue }
            guard count <= Self.maxItemsPerSection else {
                throw SandboxError(
                    "the module's \(Self.sectionName(id)) section declares \(count) items; the wasmkit backend accepts at most \(Self.maxItemsPerSection)"
                )
            }
            expandedBytes += 64 * count
            switch id {
            case 6: try countGlobals(count, in: &section)
            case 9: try countElements(count, in: &section)
            case 10: try countLocals(count, in: &section)
            case 11: try countData(count, in: &section)
            default: continue
            }
        }
        expandedBytes += 96 * elementEntries + 20 * locals + 32 * constantInstructions
    }

    private mutating func countGlobals(_ count: Int, in section: inout ByteReader) throws(SandboxError) {
        for _ in 0..<count {
            guard section.skipValueType(), section.byte() != nil, try skipConstant(in: &section) else { return }
        }
    }

    private mutating func countElements(_ count: Int, in section: inout ByteReader) throws(SandboxError) {
        for _ in 0..<count {
            guard let flags = section.leb(), flags <= 7 else { return }
            if flags == 2 || flags == 6 { guard section.leb() != nil else { return } }  // table index
            if flags & 1 == 0 { guard try skipConstant(in: &section) else { return } }  // offset
            if flags & 3 != 0 {
                guard flags & 4 == 0 ? section.byte() != nil : section.skipValueType() else { return }
            }
            guard let entries = section.leb() else { return }
            elementEntries += entries
            guard elementEntries <= Self.maxElementEntries else {
                throw SandboxError(
                    "the module's element segments hold more than \(Self.maxElementEntries) entries; a table holds at most \(TableBounds.maxElements)"
                )
            }
            for _ in 0..<entries {
                guard try flags & 4 == 0 ? section.leb() != nil : skipConstant(in: &section) else { return }
            }
        }
    }

    private mutating func countData(_ count: Int, in section: inout ByteReader) throws(SandboxError) {
        for _ in 0..<count {
            guard let flags = section.leb(), flags <= 2 else { return }
            if flags == 2 { guard section.leb() != nil else { return } }  // memory index
            if flags != 1 { guard try skipConstant(in: &section) else { return } }  // offset
            guard let size = section.leb(), section.skip(size) else { return }
        }
    }

    private mutating func countLocals(_ count: Int, in section: inout ByteReader) throws(SandboxError) {
        for function in 0..<count {
            guard let size = section.leb(), var body = section.take(size), let groups = body.leb() else { return }
            var declared = 0
            for _ in 0..<groups {
                guard let count = body.leb(), body.skipValueType() else { return }
                declared += count
                guard declared <= Self.maxLocalsPerFunction else {
                    throw SandboxError(
                        "function \(function) of the module's code declares more than \(Self.maxLocalsPerFunction) locals (the bound Wasmtime's validator sets too)"
                    )
                }
            }
            locals += declared
            maxFunctionLocals = max(maxFunctionLocals, declared)
            guard locals <= Self.maxLocals else {
                throw SandboxError("the module's functions declare more than \(Self.maxLocals) locals in all")
            }
        }
    }

    /// Skips a constant expression, counting its instructions; false if the bytes end first.
    private mutating func skipConstant(in section: inout ByteReader) throws(SandboxError) -> Bool {
        while let opcode = section.byte() {
            constantInstructions += 1
            guard constantInstructions <= Self.maxConstantInstructions else {
                throw SandboxError(
                    "the module's constant expressions hold more than \(Self.maxConstantInstructions) instructions in all"
                )
            }
            switch opcode {
            case 0x0B: return true
            case 0x41, 0x42, 0xD0: guard section.skipSignedLEB() else { return false }  // i32/i64.const, ref.null
            case 0x43: guard section.skip(4) else { return false }  // f32.const
            case 0x44: guard section.skip(8) else { return false }  // f64.const
            case 0x23, 0xD2: guard section.leb() != nil else { return false }  // global.get, ref.func
            case 0x6A, 0x6B, 0x6C, 0x7C, 0x7D, 0x7E: continue  // extended constant arithmetic
            case 0xFD: guard section.leb() == 0x0C, section.skip(16) else { return false }  // v128.const
            default:
                // WasmKit's parser would store any instruction here and refuse it only later.
                throw SandboxError(
                    "a constant expression of the module uses opcode 0x\(String(opcode, radix: 16)), which is not a constant instruction"
                )
            }
        }
        return false
    }

    private static func sectionName(_ id: Int) -> String {
        [
            1: "type", 2: "import", 3: "function", 4: "table", 5: "memory", 6: "global", 7: "export", 9: "element",
            10: "code", 11: "data", 13: "tag",
        ][id] ?? "section \(id)"
    }
}

/// Reads a module's bytes without trapping: every read that would pass the end answers nil.
private struct ByteReader {
    var bytes: ArraySlice<UInt8>

    var isAtEnd: Bool { bytes.isEmpty }

    mutating func byte() -> Int? { bytes.popFirst().map(Int.init) }

    mutating func skip(_ count: Int) -> Bool { take(count) != nil }

    mutating func take(_ count: Int) -> ByteReader? {
        guard count <= bytes.count else { return nil }
        defer { bytes = bytes.dropFirst(count) }
        return ByteReader(bytes: bytes.prefix(count))
    }

    /// An unsigned LEB128 of at most 32 bits (all counts and indices are).
    mutating func leb() -> Int? {
        var value = 0
        for shift in stride(from: 0, to: 35, by: 7) {
            guard let byte = byte() else { return nil }
            value |= (byte & 0x7F) << shift
            if byte & 0x80 == 0 { return value <= Int(UInt32.max) ? value : nil }
        }
        return nil
    }

    /// A signed LEB128 of up to 64 bits, value unused.
    mutating func skipSignedLEB() -> Bool {
        for _ in 0..<10 {
            guard let byte = byte() else { return false }
            if byte & 0x80 == 0 { return true }
        }
        return false
    }

    mutating func skipValueType() -> Bool {
        guard let type = byte() else { return false }
        // A typed reference names its heap type after the prefix.
        return type == 0x63 || type == 0x64 ? skipSignedLEB() : true
    }
}
