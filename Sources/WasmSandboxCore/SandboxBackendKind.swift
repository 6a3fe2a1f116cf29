/// Which engine runs a sandbox's requests.
public enum SandboxBackendKind: String, Sendable, Hashable, CaseIterable, Codable {
    /// Wasmtime: compiles to native code (Cranelift), epoch interruption, pooling allocator.
    case wasmtime
    /// WasmKit: a pure-Swift interpreter, for hosts that forbid JIT compilation and builds
    /// with no native library.
    case wasmkit

    /// The backend named by `text` (as `MCP_SANDBOX_BACKEND` or `--backend` give it).
    ///
    /// - Throws: ``SandboxError`` naming the accepted values.
    public init(parsing text: String) throws(SandboxError) {
        guard let kind = Self(rawValue: text.trimmingCharacters(in: .whitespaces).lowercased()) else {
            throw SandboxError(
                "unknown backend '\(text.prefix(64))': use \(Self.allCases.map(\.rawValue).joined(separator: " or "))")
        }
        self = kind
    }
}
