/// One fuzz target: a function that checks an input against the code under test and
/// describes the first broken invariant, or returns `nil`.
///
/// The libFuzzer executables (`Fuzz/`, built by `scripts/fuzz.sh`) and the corpus replay
/// test call the same functions, so every committed corpus file is checked by `swift test`.
public struct FuzzTarget: Sendable {
    /// The target's name, which is also its corpus directory under `Tests/FuzzCorpus`.
    public let name: String
    public let check: @Sendable (UnsafeRawBufferPointer) -> String?

    public init(name: String, check: @escaping @Sendable (UnsafeRawBufferPointer) -> String?) {
        self.name = name
        self.check = check
    }

    public static let all: [FuzzTarget] = [.mcpArguments, .diskCache, .wasiShadows]

    /// The body of `LLVMFuzzerTestOneInput`: a broken invariant traps, so that libFuzzer
    /// stops and saves the input.
    public func fuzz(_ data: UnsafePointer<UInt8>?, _ size: Int) -> Int32 {
        if let failure = check(UnsafeRawBufferPointer(start: data, count: size)) {
            fatalError("\(name): \(failure)")
        }
        return 0
    }
}
