/// The languages the sandbox runs, named as its front ends (the CLI, the MCP tool) take them.
///
/// The raw values are the canonical names; front ends that list the choices (a JSON schema,
/// `--help`) list `allCases`, so that a language added here shows up everywhere at once.
public enum Language: String, CaseIterable, Sendable {
    /// JavaScript, run by the sandbox's QuickJS engine.
    case javascript
    /// Python 3.15 with the scientific stack, run by CPython for WASI.
    case python
    /// A binary WebAssembly module (a WASI command).
    case wasm
    /// A module in WebAssembly text format.
    case wat

    /// A language by its canonical name or a common short name (`js`, `py`).
    public init?(name: String) {
        switch name {
        case "js": self = .javascript
        case "py": self = .python
        default: self.init(rawValue: name)
        }
    }

    /// The program `bytes` as input in this language: a module as is, source text after a
    /// check that it is UTF-8, since the engines take text.
    ///
    /// - Throws: ``SandboxError`` naming the offset of the first invalid byte of a source.
    public func input(_ bytes: [UInt8]) throws(SandboxError) -> ExecutionInput {
        switch self {
        case .javascript: try .javascript(utf8: bytes)
        case .python: try .python(utf8: bytes)
        case .wasm: .wasm(bytes)
        case .wat: .wat(try ExecutionInput.decodeSource(bytes, language: "WebAssembly text"))
        }
    }
}
