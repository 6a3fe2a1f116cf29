import WasmSandboxCLICommands

await WasmSandboxCommand.runFromCommandLine()
