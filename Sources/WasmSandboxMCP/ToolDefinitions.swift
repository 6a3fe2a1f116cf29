import MCP
import WasmSandbox

/// The tools the server offers, with their input and output schemas. The schemas come from
/// the types that decode the arguments and produce the results, never from lists kept here.
enum ToolDefinitions {
    static let executeCode = Tool(
        name: "execute_code",
        title: "Run code in a WebAssembly sandbox",
        description: """
            Runs JavaScript (QuickJS, Node-style console), Python 3.15 (CPython for WASI with numpy, \
            pandas, scipy, scikit-learn, statsmodels, matplotlib, sympy and more; numpy, pandas and \
            matplotlib load instantly), WebAssembly text (wat) or a base64 WebAssembly module (wasm, \
            a WASI command) in a fresh Wasmtime sandbox with a timeout, a memory cap and output caps. \
            No network and no host files: only stdin, args, env and the files given, placed in \
            /workspace. Returns stdout, stderr and a status; files the code leaves in /workspace come \
            back too, and matplotlib figures (plt.show() or left open) come back as \
            /workspace/figure-N.png.
            """,
        inputSchema: ExecuteCodeField.inputSchema,
        annotations: .init(destructiveHint: false, openWorldHint: false),
        outputSchema: .object([
            "type": "object",
            "properties": .object([
                "status": .object([
                    "type": "string",
                    // Every status the sandbox can produce, and only those.
                    "enum": .array(ExecutionResult.Status.allCases.map { .string($0.rawValue) }),
                ]),
                "exit_code": .object(["type": .array(["integer", "null"])]),
                "trap": .object(["type": .array(["string", "null"])]),
                "message": .object(["type": .array(["string", "null"])]),
                "stdout": .object(["type": "string"]),
                "stderr": .object(["type": "string"]),
                "stdout_truncated": .object(["type": "boolean"]),
                "stderr_truncated": .object(["type": "boolean"]),
                "duration_ms": .object(["type": "number"]),
                "fuel_consumed": .object(["type": .array(["integer", "null"])]),
                "memory_peak_bytes": .object(["type": "integer"]),
                "cache_hit": .object(["type": "boolean"]),
                "compile_ms": .object(["type": .array(["number", "null"])]),
                "limits": .object(["type": "object"]),
                "files": .object(["type": "array"]),
                "files_omitted": .object(["type": "integer"]),
            ]),
            "required": .array(["status", "stdout", "stderr", "limits"]),
        ])
    )

    static let health = Tool(
        name: "sandbox_health",
        description: "Runs a canary module through the sandbox and reports whether it works.",
        inputSchema: .object(["type": "object", "properties": .object([:]), "additionalProperties": false]),
        annotations: .init(readOnlyHint: true),
        outputSchema: .object([
            "type": "object",
            "properties": .object([
                "healthy": .object(["type": "boolean"]), "message": .object(["type": "string"]),
                "duration_ms": .object(["type": "number"]),
            ]),
            "required": .array(["healthy", "message"]),
        ])
    )

    static let metrics = Tool(
        name: "sandbox_metrics",
        description: "Counts of execute_code calls by status since the server started, and its limits.",
        inputSchema: .object(["type": "object", "properties": .object([:]), "additionalProperties": false]),
        annotations: .init(readOnlyHint: true),
        outputSchema: .object([
            "type": "object",
            "properties": .object([
                "calls": .object(["type": "integer"]), "by_status": .object(["type": "object"]),
                "in_flight": .object(["type": "integer"]), "total_duration_ms": .object(["type": "number"]),
                "limits": .object(["type": "object"]),
            ]),
            "required": .array(["calls", "by_status"]),
        ])
    )

    static let all = [executeCode, health, metrics]
}
