import CWasmtime

#if canImport(Glibc)
    import Glibc
#endif

/// Receives what a guest writes to stdout or stderr.
///
/// Called on Wasmtime's own threads, so implementations must be thread-safe.
public protocol WASIOutputSink: AnyObject, Sendable {
    /// Takes the bytes; the guest sees them all as written.
    func write(_ bytes: UnsafeRawBufferPointer)
}

/// A host directory made visible to the guest.
public struct PreopenedDirectory: Sendable, Hashable {
    /// The directory on the host.
    public var hostPath: String
    /// Where the guest sees it.
    public var guestPath: String
    /// Whether the guest may create, change and delete files in it.
    public var writable: Bool

    public init(hostPath: String, guestPath: String, writable: Bool) {
        self.hostPath = hostPath
        self.guestPath = guestPath
        self.writable = writable
    }
}

/// The WASI preview 1 world of one store: arguments, environment, stdio and directories.
/// Nothing is inherited from the host.
public struct WASIConfiguration: Sendable {
    public var arguments: [String] = []
    public var environment: [(name: String, value: String)] = []
    public var stdin: [UInt8] = []
    public var stdout: (any WASIOutputSink)? = nil
    public var stderr: (any WASIOutputSink)? = nil
    public var directories: [PreopenedDirectory] = []

    public init() {}

    /// Builds Wasmtime's configuration; the caller owns the result.
    func makeRaw() throws(WasmtimeError) -> OpaquePointer {
        for text in arguments + environment.flatMap({ [$0.name, $0.value] }) where text.utf8.contains(0) {
            throw WasmtimeError.error(message: "WASI arguments and environment must not contain NUL bytes")
        }
        for env in environment where env.name.isEmpty || env.name.contains("=") {
            throw WasmtimeError.error(message: "invalid environment variable name '\(env.name)'")
        }
        let config = wasi_config_new()!
        var ok = withCStrings(arguments) { wasi_config_set_argv(config, arguments.count, $0) }
        ok =
            ok
            && withCStrings(environment.map(\.name)) { names in
                withCStrings(environment.map(\.value)) { values in
                    wasi_config_set_env(config, environment.count, names, values)
                }
            }
        guard ok else {
            wasi_config_delete(config)
            throw WasmtimeError.error(message: "Wasmtime rejected the WASI arguments or environment")
        }
        var input = makeOwnedByteVec(stdin)
        wasi_config_set_stdin_bytes(config, &input)
        if let stdout { wasi_config_set_stdout_custom(config, writeToSink, retain(stdout), releaseSink) }
        if let stderr { wasi_config_set_stderr_custom(config, writeToSink, retain(stderr), releaseSink) }
        for directory in directories
        where !wasi_config_preopen_dir(config, directory.hostPath, directory.guestPath, directory.writable) {
            wasi_config_delete(config)
            throw WasmtimeError.error(message: "cannot open directory '\(directory.hostPath)' for the guest")
        }
        return config
    }
}

private final class SinkBox {
    let sink: any WASIOutputSink
    init(_ sink: any WASIOutputSink) { self.sink = sink }
}

private func retain(_ sink: any WASIOutputSink) -> UnsafeMutableRawPointer {
    Unmanaged.passRetained(SinkBox(sink)).toOpaque()
}

private func writeToSink(_ env: UnsafeMutableRawPointer?, _ bytes: UnsafePointer<UInt8>?, _ count: Int) -> Int {
    let box = Unmanaged<SinkBox>.fromOpaque(env!).takeUnretainedValue()
    box.sink.write(UnsafeRawBufferPointer(start: bytes, count: count))
    return count
}

private func releaseSink(_ env: UnsafeMutableRawPointer?) {
    Unmanaged<SinkBox>.fromOpaque(env!).release()
}

/// Calls `body` with a C array of NUL-terminated copies of `strings`.
private func withCStrings<R>(_ strings: [String], _ body: (UnsafeMutablePointer<UnsafePointer<CChar>?>) -> R) -> R {
    let copies = strings.map { strdup($0) }
    defer { for copy in copies { free(copy) } }
    // A trailing NULL keeps the buffer non-empty, so its base address exists even for no strings.
    var pointers = copies.map { UnsafePointer($0) } + [nil]
    return pointers.withUnsafeMutableBufferPointer { body($0.baseAddress!) }
}
