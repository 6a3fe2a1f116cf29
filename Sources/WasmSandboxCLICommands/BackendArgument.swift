import ArgumentParser
import WasmSandbox

/// `--backend wasmtime|wasmkit`: an unknown name is a usage error listing both.
extension SandboxBackendKind: ExpressibleByArgument {}
