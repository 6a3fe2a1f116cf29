import WasmSandboxCore

/// Counts what a module's bytes promise before WasmKit parses them, and refuses a module whose
/// counts would cost the host far more than its size.
///
/// WasmKit's parser expands what the binary format writes compactly: one local declaration
/// `(99,999 × i32)` becomes 99,999 stored locals, each element-segment entry an expression of
/// its own, each function some 370 bytes. Measured before this check: a 16 KB module of 2,000
/// functions with 99,999 locals each took 3.9 GB of host memory and 113 s to load; an element
/// segment of 30M entries took 3.1 GB. None of that is guest memory, so the memory cap never
/// saw it. The scan walks every section's items as WasmKit reads them and fails closed: bytes
/// it cannot follow (a size that runs past the end, items that do not end where their section
/// or body says, an encoding it does not know) are refused, since WasmKit reads items whatever
/// a section's size claims and would otherwise parse what the scan never counted. Custom
/// sections are dropped (WasmKit indexes its function list with the name section's indices
/// unchecked when it describes a trap: an index past the end crashed the process).
struct ModuleBounds {
    static let maxLocalsPerFunction = 50_000
    /// Locals of all functions together: what the parser stores, some 12 bytes each.
    static let maxLocals = 1 << 22
    /// Element-segment entries of all segments together: a table holds at most
    /// ``TableBounds/maxElements``, so more could never be used.
    static let maxElementEntries = TableBounds.maxElements
    /// Instructions in one constant expression, and in all of them together. WasmKit stores
    /// each as an instruction value, and describes a refused expression whole (2M constants
    /// in one element expression held a thread for 11 s building the message).
    static let maxConstantInstructions = 64
    static let maxConstantInstructionsInAll = 1 << 20
    /// Parameters or results of one function type, as Wasmtime's validator allows.
    static let maxTypeArity = 1_000
    static let maxItemsPerSection = 1_000_000
    /// Function bodies: WasmKit's translation takes some 25 bytes of host memory per byte of
    /// code (9 MB of `nop`s: 228 MB), in every store that runs them, outside the memory cap.
    static let maxCodeBytes = 8 << 20
    /// The host memory the parsed module may take, by the estimate below.
    static let maxExpandedBytes = 256 << 20

    /// An estimate of the host memory the parsed module holds beyond its bytes, for the
    /// module cache's accounting.
    private(set) var expandedBytes = 0
    /// The most locals one function declares. WasmKit charges a call one unit of fuel but
    /// clears the callee's locals first: measured on a release build, a loop calling a
    /// function of 4,000 locals ran 150 times slower per unit than a tight loop, so the fuel
    /// allowance of such a module is divided by ``fuelDivisor``.
    private(set) var maxFunctionLocals = 0
    /// The module without its custom sections: what WasmKit is given.
    private(set) var module: [UInt8]
    private var locals = 0
    private var elementEntries = 0
    private var constantInstructions = 0

    /// By how much the fuel allowance per second is divided: 1 below 128 locals a function (a
    /// call then costs at most a few times its fuel), then in proportion, which keeps a
    /// call-heavy loop within some fifteen timeouts (measured: 4,000 and 50,000 locals).
    var fuelDivisor: UInt64 { UInt64(max(1, maxFunctionLocals / 64)) }

    init(checking bytes: [UInt8]) throws(SandboxError) {
        module = bytes
        var reader = ByteReader(bytes: bytes[...])
        guard reader.take(8) != nil else { throw ByteReader.malformed("it is shorter than the 8-byte header", at: 0) }
        var kept: [UInt8]? = nil
        while !reader.isAtEnd {
            let start = reader.offset
            let id = try reader.byte()
            let size = try reader.leb()
            guard var section = reader.take(size) else {
                throw ByteReader.malformed(
                    "section \(id) declares \(size) bytes, more than the module has left", at: start)
            }
            if id == 0 {
                if kept == nil { kept = Array(bytes[..<start]) }
                continue
            }
            kept?.append(contentsOf: bytes[start..<reader.offset])
            guard id != 10 || size <= Self.maxCodeBytes else {
                throw SandboxError(
                    "the module's code is \(size) bytes; the wasmkit backend translates at most \(Self.maxCodeBytes) (some 25 bytes of host memory each, in every run): use the wasmtime backend"
                )
            }
            try scan(section: id, &section)
            guard section.isAtEnd else {
                throw ByteReader.malformed("section \(id)'s items end before its declared size", at: section.offset)
            }
        }
        if let kept { module = kept }
        expandedBytes += 12 * locals + 100 * elementEntries + 32 * constantInstructions
        guard expandedBytes <= Self.maxExpandedBytes else {
            throw SandboxError(
                "the module would take about \(expandedBytes >> 20) MiB of host memory once parsed (its functions, types, segments and locals), more than the \(Self.maxExpandedBytes >> 20) MiB the wasmkit backend allows a module"
            )
        }
    }

    private mutating func scan(section id: Int, _ section: inout ByteReader) throws(SandboxError) {
        if id == 8 || id == 12 {  // start function, data count: one index
            _ = try section.leb()
            return
        }
        guard (1...13).contains(id) else { throw ByteReader.malformed("unknown section id \(id)", at: section.offset) }
        let count = try section.leb()
        guard count <= Self.maxItemsPerSection else {
            throw SandboxError(
                "the module's \(Self.sectionName(id)) section declares \(count) items; the wasmkit backend accepts at most \(Self.maxItemsPerSection)"
            )
        }
        for item in 0..<count {
            switch id {
            case 1: try scanType(&section)
            case 2: try scanImport(&section)
            case 3: _ = try section.leb()
            case 4: try scanTable(&section)
            case 5: try section.skipLimits()
            case 6: try scanGlobal(&section)
            case 7: try scanExport(&section)
            case 9: try scanElementSegment(&section)
            case 10: try scanCode(&section, function: item)
            case 11: try scanDataSegment(&section)
            default: try scanTag(&section)  // 13
            }
        }
        // What WasmKit keeps per item, measured (a function some 370 bytes with its body, a
        // global 220, a table 170, a type or an export 150, a segment 85), rounded up; a
        // function is charged once, in the function section.
        let weights = [1: 160, 2: 160, 3: 400, 4: 200, 6: 256, 7: 160, 9: 100, 11: 100]
        expandedBytes += count * (weights[id] ?? 64)
    }

    private mutating func scanType(_ section: inout ByteReader) throws(SandboxError) {
        let form = try section.byte()
        guard form == 0x60 else {
            throw ByteReader.malformed(
                "a type that is not a function type (0x\(String(form, radix: 16)))", at: section.offset - 1)
        }
        for role in ["parameters", "results"] {
            let arity = try section.leb()
            guard arity <= Self.maxTypeArity else {
                throw SandboxError("a function type of the module has \(arity) \(role); at most \(Self.maxTypeArity)")
            }
            for _ in 0..<arity { try section.skipValueType() }
            expandedBytes += 24 * arity
        }
    }

    private mutating func scanImport(_ section: inout ByteReader) throws(SandboxError) {
        try section.skipName()
        try section.skipName()
        switch try section.byte() {
        case 0: _ = try section.leb()  // function: its type
        case 4: try scanTag(&section)
        case 1: try scanTableType(&section)
        case 2: try section.skipLimits()
        case 3:
            try section.skipValueType()
            _ = try section.byte()
        case let kind: throw ByteReader.malformed("an import of kind \(kind)", at: section.offset - 1)
        }
    }

    private mutating func scanTableType(_ section: inout ByteReader) throws(SandboxError) {
        try section.skipValueType()
        try section.skipLimits()
    }

    private mutating func scanTable(_ section: inout ByteReader) throws(SandboxError) {
        // A table with an initialiser: 0x40 0x00, its type, then a constant expression.
        guard section.bytes.first == 0x40 else { return try scanTableType(&section) }
        _ = try section.byte()
        guard try section.byte() == 0 else { throw ByteReader.malformed("a table encoding", at: section.offset - 1) }
        try scanTableType(&section)
        try skipConstant(&section)
    }

    private mutating func scanGlobal(_ section: inout ByteReader) throws(SandboxError) {
        try section.skipValueType()
        _ = try section.byte()
        try skipConstant(&section)
    }

    private mutating func scanExport(_ section: inout ByteReader) throws(SandboxError) {
        try section.skipName()
        _ = try section.byte()
        _ = try section.leb()
    }

    private mutating func scanTag(_ section: inout ByteReader) throws(SandboxError) {
        _ = try section.byte()
        _ = try section.leb()
    }

    private mutating func scanElementSegment(_ section: inout ByteReader) throws(SandboxError) {
        let at = section.offset
        let flags = try section.leb()
        guard flags <= 7 else { throw ByteReader.malformed("element segment flags \(flags)", at: at) }
        if flags == 2 || flags == 6 { _ = try section.leb() }  // table index
        if flags & 1 == 0 { try skipConstant(&section) }  // offset
        if flags & 3 != 0 {
            if flags & 4 == 0 {
                // The element kind: funcref, written as one zero byte.
                guard try section.byte() == 0 else {
                    throw ByteReader.malformed("an element kind", at: section.offset - 1)
                }
            } else {
                try section.skipValueType()
            }
        }
        let entries = try section.leb()
        elementEntries += entries
        guard elementEntries <= Self.maxElementEntries else {
            throw SandboxError(
                "the module's element segments hold more than \(Self.maxElementEntries) entries; a table holds at most \(TableBounds.maxElements)"
            )
        }
        for _ in 0..<entries {
            if flags & 4 == 0 { _ = try section.leb() } else { try skipConstant(&section) }
        }
    }

    private mutating func scanDataSegment(_ section: inout ByteReader) throws(SandboxError) {
        let at = section.offset
        let flags = try section.leb()
        guard flags <= 2 else { throw ByteReader.malformed("data segment flags \(flags)", at: at) }
        if flags == 2 { _ = try section.leb() }  // memory index
        if flags != 1 { try skipConstant(&section) }  // offset
        let size = try section.leb()
        guard section.take(size) != nil else { throw ByteReader.malformed("a data segment past its section", at: at) }
    }

    private mutating func scanCode(_ section: inout ByteReader, function: Int) throws(SandboxError) {
        let at = section.offset
        let size = try section.leb()
        guard var body = section.take(size) else {
            throw ByteReader.malformed("a function body past its section", at: at)
        }
        let groups = try body.leb()
        var declared = 0
        for _ in 0..<groups {
            declared += try body.leb()
            try body.skipValueType()
            guard declared <= Self.maxLocalsPerFunction else {
                throw SandboxError(
                    "function \(function) of the module's code declares more than \(Self.maxLocalsPerFunction) locals (the bound Wasmtime's validator sets too)"
                )
            }
        }
        // WasmKit reads the body's instructions from what is left; an empty rest is no body.
        guard !body.isAtEnd else { throw ByteReader.malformed("a function body with no instructions", at: at) }
        locals += declared
        maxFunctionLocals = max(maxFunctionLocals, declared)
        guard locals <= Self.maxLocals else {
            throw SandboxError("the module's functions declare more than \(Self.maxLocals) locals in all")
        }
    }

    /// Skips a constant expression, counting its instructions.
    private mutating func skipConstant(_ section: inout ByteReader) throws(SandboxError) {
        var count = 0
        while true {
            let at = section.offset
            let opcode = try section.byte()
            count += 1
            constantInstructions += 1
            guard count <= Self.maxConstantInstructions, constantInstructions <= Self.maxConstantInstructionsInAll
            else {
                throw SandboxError(
                    "a constant expression of the module holds more than \(Self.maxConstantInstructions) instructions, or all of them more than \(Self.maxConstantInstructionsInAll)"
                )
            }
            switch opcode {
            case 0x0B: return
            case 0x41, 0x42, 0xD0: try section.skipSignedLEB()  // i32/i64.const, ref.null
            case 0x43: guard section.take(4) != nil else { throw ByteReader.malformed("an f32.const", at: at) }
            case 0x44: guard section.take(8) != nil else { throw ByteReader.malformed("an f64.const", at: at) }
            case 0x23, 0xD2: _ = try section.leb()  // global.get, ref.func
            case 0x6A, 0x6B, 0x6C, 0x7C, 0x7D, 0x7E: continue  // extended constant arithmetic
            case 0xFD:  // v128.const
                guard try section.leb() == 0x0C, section.take(16) != nil else {
                    throw ByteReader.malformed("a vector instruction in a constant expression", at: at)
                }
            default:
                // WasmKit's parser would store any instruction here and refuse it only later.
                throw SandboxError(
                    "a constant expression of the module uses opcode 0x\(String(opcode, radix: 16)), which is not a constant instruction"
                )
            }
        }
    }

    private static func sectionName(_ id: Int) -> String {
        [
            1: "type", 2: "import", 3: "function", 4: "table", 5: "memory", 6: "global", 7: "export", 9: "element",
            10: "code", 11: "data", 13: "tag",
        ][id] ?? "section \(id)"
    }
}

/// Reads a module's bytes; a read past the end, or an encoding WasmKit would read otherwise,
/// is an `invalid_input` naming the byte.
private struct ByteReader {
    var bytes: ArraySlice<UInt8>

    var isAtEnd: Bool { bytes.isEmpty }
    var offset: Int { bytes.startIndex }

    static func malformed(_ what: String, at offset: Int) -> SandboxError {
        SandboxError("invalid WebAssembly module: \(what) (at byte \(offset))")
    }

    mutating func byte() throws(SandboxError) -> Int {
        guard let byte = bytes.popFirst() else { throw Self.malformed("it ends in the middle of an item", at: offset) }
        return Int(byte)
    }

    mutating func take(_ count: Int) -> ByteReader? {
        guard count <= bytes.count else { return nil }
        defer { bytes = bytes.dropFirst(count) }
        return ByteReader(bytes: bytes.prefix(count))
    }

    /// An unsigned LEB128 of at most 32 bits (counts, indices, sizes).
    mutating func leb() throws(SandboxError) -> Int {
        let at = offset
        var value = 0
        for shift in stride(from: 0, to: 35, by: 7) {
            let byte = try byte()
            value |= (byte & 0x7F) << shift
            if byte & 0x80 == 0 {
                guard value <= Int(UInt32.max) else { break }
                return value
            }
        }
        throw Self.malformed("an integer that does not fit 32 bits", at: at)
    }

    /// A LEB128 of up to 64 bits, value unused.
    mutating func skipSignedLEB() throws(SandboxError) {
        let at = offset
        for _ in 0..<10 where try byte() & 0x80 == 0 { return }
        throw Self.malformed("an integer that does not fit 64 bits", at: at)
    }

    mutating func skipValueType() throws(SandboxError) {
        let type = try byte()
        // A typed reference names its heap type after the prefix.
        if type == 0x63 || type == 0x64 { try skipSignedLEB() }
    }

    /// A name: its bytes must be UTF-8, checked here because WasmKit's refusal of bad ones
    /// writes out every byte (a 9.9 MB name: 6.3 s and 233 MB to describe).
    mutating func skipName() throws(SandboxError) {
        let at = offset
        guard let name = take(try leb()) else { throw Self.malformed("a name past its section", at: at) }
        guard String(validating: name.bytes, as: UTF8.self) != nil else {
            throw Self.malformed("a name that is not UTF-8", at: at)
        }
    }

    /// Table or memory limits: flags, minimum, then a maximum and a page size if flagged.
    mutating func skipLimits() throws(SandboxError) {
        let at = offset
        let flags = try byte()
        guard flags <= 0x0F else { throw Self.malformed("limits flags 0x\(String(flags, radix: 16))", at: at) }
        try skipSignedLEB()
        if flags & 1 != 0 { try skipSignedLEB() }
        if flags & 8 != 0 { try skipSignedLEB() }
    }
}
