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
            /workspace/figure-N.png. Without session_id every call starts from nothing. With a \
            session_id of your choice (javascript or python), state persists across calls as in a \
            notebook: define variables, import modules or load a DataFrame in one call and use them \
            in the next; the value of a call's final expression is returned as 'value'. A call that \
            times out or hits a limit ends its session (the result says so); idle sessions are \
            closed after a while (10 minutes by default).
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
                "session_id": .object(["type": "string"]),
                "value": .object(["type": .array(["string", "null"])]),
                "value_truncated": .object(["type": "boolean"]),
                "session_ended": .object(["type": "boolean"]),
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

    static let listSessions = Tool(
        name: "list_sessions",
        description:
            "Lists this connection's open execute_code sessions: session_id, language, age, idle time, memory and calls.",
        inputSchema: .object(["type": "object", "properties": .object([:]), "additionalProperties": false]),
        annotations: .init(readOnlyHint: true),
        outputSchema: .object([
            "type": "object",
            "properties": .object(["sessions": .object(["type": "array"])]),
            "required": .array(["sessions"]),
        ])
    )

    static let resetSession = sessionTool(
        name: "reset_session",
        description:
            "Discards a session's state (variables, imports, /workspace files): the next execute_code with its session_id starts a new, empty session."
    )

    static let closeSession = sessionTool(
        name: "close_session",
        description: "Closes a session and frees its memory and files, when its work is done."
    )

    private static func sessionTool(name: String, description: String) -> Tool {
        Tool(
            name: name, description: description,
            inputSchema: .object([
                "type": "object",
                "properties": .object([ExecuteCodeField.sessionID.name: ExecuteCodeField.sessionID.schema]),
                "required": .array([.string(ExecuteCodeField.sessionID.name)]),
                "additionalProperties": false,
            ]),
            annotations: .init(destructiveHint: true, idempotentHint: true, openWorldHint: false),
            outputSchema: .object([
                "type": "object",
                "properties": .object([
                    "session_id": .object(["type": "string"]), "closed": .object(["type": "boolean"]),
                ]),
                "required": .array(["session_id", "closed"]),
            ]))
    }

    static let all = [executeCode, health, metrics, listSessions, resetSession, closeSession]
}
