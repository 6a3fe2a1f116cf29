import Foundation
import Wasmtime

/// How the sandbox drives the CPython engine (built by scripts/build-python-engine.sh) through
/// the shared turn ABI (see ``LanguageEngine``): the code runs in a persistent `__main__`; each
/// call is the code's turn and then one of the sandbox's own that saves open figures.
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

    /// A session's turn before a call that reads stdin: a new `sys.stdin`, so that what the
    /// last call's stdin left in the old one's buffers is not read as this call's. It is
    /// built as the interpreter builds its own (UTF-8, `surrogateescape`), whatever the code
    /// did to the old one.
    static let freshStdin = Array(
        """
        if 1: __import__('sys').stdin = __import__('io').TextIOWrapper(__import__('io').BufferedReader(\
        __import__('io').FileIO(0, 'rb', closefd=False)), encoding='utf-8', errors='surrogateescape')
        """.utf8)

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

    /// Runs one call's code, then (unless it quit or the run was stopped) the sandbox's
    /// finishing turn, whose failure counts when the code itself succeeded.
    static func run(_ source: [UInt8], in instance: Instance<RunState>, control: RunControl) throws(WasmtimeError)
        -> LanguageEngine.Outcome
    {
        let status = try LanguageEngine.turn(source, in: instance)
        var code = status & 0xff
        let quit = status & quitFlag != 0
        if !quit && !control.shouldStop() {
            let finished = try LanguageEngine.turn(finish, in: instance) & 0xff
            if code == 0 { code = finished }
        }
        return LanguageEngine.Outcome(status: code, quit: quit)
    }
}
