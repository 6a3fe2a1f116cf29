@_exported import WasmSandboxCore
import Wasmtime

// Users of the full library get the engine-free types (requests, results, limits,
// configuration) from this module too.

/// Wasmtime's WASI writes a run's stdout and stderr straight into its capped buffers.
extension CappedOutput: WASIOutputSink {}
