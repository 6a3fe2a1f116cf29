import Foundation
import Wasmtime

/// How the sandbox drives the CPython engine (built by scripts/build-python-engine.sh): a
/// reactor whose `turn(pointer, length)` runs UTF-8 source in a persistent `__main__`, after
/// `host_alloc(length)` gave the buffer to write it to. A run is a fresh instance and one turn
/// of the program, then one of the sandbox's own that saves open figures.
enum PythonEngine {
    static let exports = ["memory", "host_alloc", "turn"]
    /// `sys.executable`, where the interpreter derives its prefix from.
    static let programName = "/usr/local/bin/python.wasm"
    /// Where the interpreter expects the standard library (`python315.zip`) as the first
    /// preopened directory.
    static let libraryGuestPath = "/usr/local/lib"
    /// Where matplotlib looks for its data: beside its own module, inside the zip's path.
    static let matplotlibDataGuestPath = "/usr/local/lib/python315.zip/matplotlib/mpl-data"
    /// The sandbox's last turn of a run: figures left open become files, as `show()` makes
    /// them (see engines/python/preload.py). The sandbox's turns are statements that bind no
    /// name: nothing echoes, `__main__` is left as the program left it, and a turn that ends
    /// in a statement skips the engine's echo path, which costs a quarter of a millisecond.
    static let finish = Array("if 1: __import__('_sandbox').finish()".utf8)

    /// `turn`'s result: the low byte is the exit status; this bit says `quit()` was called.
    private static let quitFlag: Int32 = 256

    /// The engine's read-only directories, laid out beside the engine file by setup.
    static func mounts(engine file: URL?) -> [Mount] {
        guard let directory = file?.deletingLastPathComponent() else { return [] }
        return [
            Mount(hostPath: directory.appendingPathComponent("lib").path, guestPath: libraryGuestPath),
            Mount(hostPath: directory.appendingPathComponent("mpl-data").path, guestPath: matplotlibDataGuestPath),
        ]
    }

    /// The sandbox's first turn of a run: the program's `sys.argv` (`["-c", arguments...]`,
    /// as `python -c` gives it) and whether a final expression is echoed. The engine resets
    /// `sys.argv` on an instance's first turn, so this turn sets it after that reset. Arguments
    /// travel as UTF-8 hex, which needs no quoting.
    static func begin(arguments: [String], echo: Bool) -> [UInt8] {
        var source = Array("if 1: __import__('_sandbox').begin([".utf8)
        let digits = Array("0123456789abcdef".utf8)
        for argument in arguments {
            source.append(UInt8(ascii: "'"))
            for byte in argument.utf8 {
                source.append(digits[Int(byte >> 4)])
                source.append(digits[Int(byte & 15)])
            }
            source += Array("',".utf8)
        }
        source += Array("], \(echo ? "True" : "False"))".utf8)
        return source
    }

    /// Runs `source` as the run's program, between the sandbox's beginning and finishing turns.
    ///
    /// - Throws: the program's non-zero exit status as ``WasmtimeError/exit(status:message:)``,
    ///   as a command's `proc_exit` would, or the trap or error that ended the turn.
    static func run(
        _ source: [UInt8], arguments: [String], in instance: Instance<RunState>, control: RunControl
    ) throws(WasmtimeError) {
        let began = try turn(begin(arguments: arguments, echo: false), in: instance)
        guard began == 0 else {
            throw WasmtimeError.error(message: "the Python engine failed to start the run (status \(began))")
        }
        let status = try turn(source, in: instance)
        var code = status & 0xff
        if status & quitFlag == 0 && !control.shouldStop() {
            let finished = try turn(finish, in: instance) & 0xff
            if code == 0 { code = finished }
        }
        if code != 0 { throw WasmtimeError.exit(status: code, message: "Python exited with status \(code)") }
    }

    /// One turn: the source is copied into a buffer of the guest's, then run.
    private static func turn(_ source: [UInt8], in instance: Instance<RunState>) throws(WasmtimeError) -> Int32 {
        // Sources are capped far below 2 GiB before they get here.
        let length = Value.i32(Int32(source.count))
        guard case .i32(let pointer) = try instance.call("host_alloc", [length], resultCount: 1)[0], pointer != 0 else {
            throw WasmtimeError.error(
                message: "the Python engine could not allocate \(source.count) bytes for the program")
        }
        try instance.write(source, at: Int(UInt32(bitPattern: pointer)))
        guard case .i32(let status) = try instance.call("turn", [.i32(pointer), length], resultCount: 1)[0] else {
            throw WasmtimeError.error(message: "the Python engine's turn returned no status")
        }
        return status
    }
}
