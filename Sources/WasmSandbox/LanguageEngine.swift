import Wasmtime

/// The ABI the JavaScript and Python engines share: a reactor whose `turn(pointer, length)`
/// runs UTF-8 source in the instance's persistent global scope, after `host_alloc(length)`
/// gave the buffer to write it to, and returns an exit status. A stateless run is a fresh
/// instance and one turn of its program; a session is an instance kept alive and given one
/// turn per call. The value of a session call's final expression reaches the host through
/// `host.call` (see ``HostCall``).
enum LanguageEngine: Sendable {
    case javascript
    case python

    /// How one call's turn ended.
    struct Outcome {
        /// The exit status: 0 when the code completed.
        var status: Int32
        /// The code asked the interpreter to end (Python's `quit()`): no further turns.
        var quit = false
    }

    /// The exports the sandbox calls.
    var exports: [String] {
        switch self {
        case .javascript: JavaScriptEngine.exports
        case .python: PythonEngine.exports
        }
    }

    /// Prepares a fresh instance: the program's arguments, and whether final expressions are
    /// reported (sessions) or not (a script run).
    func begin(in instance: Instance<RunState>, arguments: [String], reportsValues: Bool) throws(WasmtimeError) {
        switch self {
        case .javascript:
            // The engine reads `scriptArgs` from WASI's argv and reports values only when asked.
            return
        case .python:
            let began = try Self.turn(PythonEngine.begin(arguments: arguments, echo: reportsValues), in: instance)
            guard began == 0 else {
                throw WasmtimeError.error(message: "the Python engine failed to start the run (status \(began))")
            }
        }
    }

    /// Runs one call's code; a session's call also reports its final expression's value.
    /// `freshStdin` drops whatever the engine kept of an earlier call's stdin.
    func run(
        _ source: [UInt8], in instance: Instance<RunState>, control: RunControl, reportsValue: Bool,
        freshStdin: Bool = false
    ) throws(WasmtimeError) -> Outcome {
        switch self {
        case .javascript:
            // Scripts have no way to read stdin.
            let status = try Self.turn(source, in: instance)
            guard reportsValue && status == 0 else { return Outcome(status: status) }
            return Outcome(status: try JavaScriptEngine.describe(in: instance))
        case .python:
            if freshStdin {
                let status = try Self.turn(PythonEngine.freshStdin, in: instance)
                guard status == 0 else {
                    throw WasmtimeError.error(message: "the Python engine failed to reset stdin (status \(status))")
                }
            }
            return try PythonEngine.run(source, in: instance, control: control)
        }
    }

    /// A stateless run: a fresh instance, its program in one turn.
    ///
    /// - Throws: the program's non-zero exit status as ``WasmtimeError/exit(status:message:)``,
    ///   as a command's `proc_exit` would, or the trap or error that ended the turn.
    func runProgram(_ source: [UInt8], arguments: [String], in instance: Instance<RunState>, control: RunControl)
        throws(WasmtimeError)
    {
        try begin(in: instance, arguments: arguments, reportsValues: false)
        let outcome = try run(source, in: instance, control: control, reportsValue: false)
        if outcome.status != 0 {
            throw WasmtimeError.exit(
                status: outcome.status, message: "the program exited with status \(outcome.status)")
        }
    }

    /// One turn: the source is copied into a buffer of the guest's, then run.
    static func turn(_ source: [UInt8], in instance: Instance<RunState>) throws(WasmtimeError) -> Int32 {
        // Sources are capped far below 2 GiB before they get here.
        let length = Value.i32(Int32(source.count))
        guard case .i32(let pointer) = try instance.call("host_alloc", [length], resultCount: 1)[0], pointer != 0 else {
            throw WasmtimeError.error(message: "the engine could not allocate \(source.count) bytes for the code")
        }
        try instance.write(source, at: Int(UInt32(bitPattern: pointer)))
        guard case .i32(let status) = try instance.call("turn", [.i32(pointer), length], resultCount: 1)[0] else {
            throw WasmtimeError.error(message: "the engine's turn returned no status")
        }
        return status
    }
}

/// How the sandbox drives the QuickJS engine (built by scripts/build-js-engine.sh from
/// engines/javascript): the shared turn ABI, plus `describe()`, which sends the last turn's
/// completion value, formatted as Node's REPL shows it, through `host.call`, and settles what
/// the formatting left (jobs, timers, rejections) in the same call.
enum JavaScriptEngine {
    static let exports = ["memory", "host_alloc", "turn", "describe"]
    /// `argv[0]`; the engine gives the rest to the script as `scriptArgs`.
    static let programName = "script.js"

    /// Returns the exit status, as a turn does.
    static func describe(in instance: Instance<RunState>) throws(WasmtimeError) -> Int32 {
        guard case .i32(let status) = try instance.call("describe", [], resultCount: 1)[0] else {
            throw WasmtimeError.error(message: "the engine's describe returned no status")
        }
        return status
    }
}
