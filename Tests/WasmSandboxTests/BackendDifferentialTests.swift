import Testing
import WasmSandbox

/// The same WAT programs on Wasmtime and WasmKit: status, exit code, trap, stdout and stderr
/// must be identical. Each program prints what it computes through WASI, so a difference in
/// any instruction's result shows up as different output.
@Suite("Both backends agree on every program of the corpus")
struct BackendDifferentialTests {
    /// Imports and helpers every program of the corpus shares: `$print(pointer, length)` to
    /// stdout, `$u64(value)` in decimal with a newline. Memory: 0–12 the iovec and count,
    /// 100–141 the digits, 200–1023 free for the program, data from 1024.
    static func program(_ body: String, memory: String = "(memory (export \"memory\") 1 4)") -> String {
        """
        (module
          (import "wasi_snapshot_preview1" "fd_write" (func $fd_write (param i32 i32 i32 i32) (result i32)))
          (import "wasi_snapshot_preview1" "fd_read" (func $fd_read (param i32 i32 i32 i32) (result i32)))
          (import "wasi_snapshot_preview1" "proc_exit" (func $proc_exit (param i32)))
          (import "wasi_snapshot_preview1" "args_sizes_get" (func $args_sizes_get (param i32 i32) (result i32)))
          (import "wasi_snapshot_preview1" "environ_sizes_get" (func $environ_sizes_get (param i32 i32) (result i32)))
          (import "wasi_snapshot_preview1" "clock_time_get" (func $clock_time_get (param i32 i64 i32) (result i32)))
          (import "wasi_snapshot_preview1" "random_get" (func $random_get (param i32 i32) (result i32)))
          (import "wasi_snapshot_preview1" "fd_prestat_get" (func $fd_prestat_get (param i32 i32) (result i32)))
          (import "wasi_snapshot_preview1" "path_open"
            (func $path_open (param i32 i32 i32 i32 i32 i64 i64 i32 i32) (result i32)))
          (import "wasi_snapshot_preview1" "poll_oneoff" (func $poll_oneoff (param i32 i32 i32 i32) (result i32)))
          \(memory)
          (func $write (param $fd i32) (param $ptr i32) (param $len i32) (result i32)
            (i32.store (i32.const 0) (local.get $ptr))
            (i32.store (i32.const 4) (local.get $len))
            (call $fd_write (local.get $fd) (i32.const 0) (i32.const 1) (i32.const 8)))
          (func $print (param $ptr i32) (param $len i32)
            (drop (call $write (i32.const 1) (local.get $ptr) (local.get $len))))
          (func $u64 (param $v i64) (local $p i32)
            (local.set $p (i32.const 140))
            (i32.store8 (local.get $p) (i32.const 10))
            (loop $l
              (local.set $p (i32.sub (local.get $p) (i32.const 1)))
              (i32.store8 (local.get $p)
                (i32.add (i32.const 48) (i32.wrap_i64 (i64.rem_u (local.get $v) (i64.const 10)))))
              (local.set $v (i64.div_u (local.get $v) (i64.const 10)))
              (br_if $l (i64.ne (local.get $v) (i64.const 0))))
            (call $print (local.get $p) (i32.sub (i32.const 141) (local.get $p))))
          (func $i32 (param $v i32) (call $u64 (i64.extend_i32_u (local.get $v))))
          \(body))
        """
    }

    /// A program of the corpus: its name, its text, and what it is given.
    struct Case: CustomTestStringConvertible, Sendable {
        let name: String
        let wat: String
        var arguments: [String] = []
        var environment: [String: String] = [:]
        var stdin: [UInt8] = []
        var fuel: UInt64? = nil
        var testDescription: String { name }
    }

    static let corpus: [Case] = [
        Case(
            name: "i32 arithmetic",
            wat: program(
                """
                (func (export "_start")
                  (call $i32 (i32.add (i32.const 0x7fffffff) (i32.const 1)))
                  (call $i32 (i32.mul (i32.const 123456) (i32.const 654321)))
                  (call $i32 (i32.div_s (i32.const -7) (i32.const 2)))
                  (call $i32 (i32.rem_s (i32.const -7) (i32.const 2)))
                  (call $i32 (i32.div_u (i32.const -7) (i32.const 2)))
                  (call $i32 (i32.shr_s (i32.const -256) (i32.const 33)))
                  (call $i32 (i32.rotl (i32.const 0x80000001) (i32.const 4)))
                  (call $i32 (i32.clz (i32.const 0x00010000)))
                  (call $i32 (i32.ctz (i32.const 0x00010000)))
                  (call $i32 (i32.popcnt (i32.const 0xf0f0f0f0)))
                  (call $i32 (i32.extend8_s (i32.const 0x80)))
                  (call $i32 (i32.lt_s (i32.const -1) (i32.const 1)))
                  (call $i32 (i32.lt_u (i32.const -1) (i32.const 1))))
                """)),
        Case(
            name: "i64 arithmetic",
            wat: program(
                """
                (func (export "_start")
                  (call $u64 (i64.mul (i64.const 0x123456789) (i64.const 0x987654321)))
                  (call $u64 (i64.div_s (i64.const -9000000000000000000) (i64.const 7)))
                  (call $u64 (i64.rem_u (i64.const -1) (i64.const 1000000007)))
                  (call $u64 (i64.rotr (i64.const 1) (i64.const 1)))
                  (call $u64 (i64.extend32_s (i64.const 0x80000000)))
                  (call $u64 (i64.popcnt (i64.const -1))))
                """)),
        Case(
            name: "floating point",
            wat: program(
                """
                (func (export "_start")
                  (call $u64 (i64.reinterpret_f64 (f64.div (f64.const 1) (f64.const 3))))
                  (call $u64 (i64.reinterpret_f64 (f64.sqrt (f64.const 2))))
                  (call $u64 (i64.trunc_sat_f64_s (f64.const 1e30)))
                  (call $u64 (i64.trunc_sat_f64_s (f64.const -1e30)))
                  (call $i32 (i32.trunc_sat_f32_u (f32.const -5)))
                  (call $i32 (i32.reinterpret_f32 (f32.nearest (f32.const 2.5))))
                  (call $i32 (i32.reinterpret_f32 (f32.min (f32.const -0) (f32.const 0))))
                  (call $u64 (i64.reinterpret_f64 (f64.copysign (f64.const 3) (f64.const -0))))
                  (call $u64 (i64.trunc_f64_s (f64.const -123456.9))))
                """)),
        Case(
            name: "memory loads, stores, grow, fill and copy",
            wat: program(
                """
                (data (i32.const 1024) "\\01\\02\\03\\04\\05\\06\\07\\08")
                (func (export "_start")
                  (call $u64 (i64.load (i32.const 1024)))
                  (call $i32 (i32.load16_s (i32.const 1025)))
                  (i64.store32 (i32.const 300) (i64.const -1))
                  (call $i32 (i32.load (i32.const 300)))
                  (call $i32 (memory.size))
                  (call $i32 (memory.grow (i32.const 2)))
                  (call $i32 (memory.grow (i32.const 2)))
                  (call $i32 (memory.size))
                  (memory.fill (i32.const 70000) (i32.const 0x41) (i32.const 5))
                  (memory.copy (i32.const 400) (i32.const 70000) (i32.const 5))
                  (call $print (i32.const 400) (i32.const 5)))
                """)),
        Case(
            name: "tables, indirect calls and multiple results",
            wat: program(
                """
                (type $binary (func (param i32 i32) (result i32)))
                (table 4 funcref)
                (elem (i32.const 0) $sub $mul)
                (func $sub (type $binary) (i32.sub (local.get 0) (local.get 1)))
                (func $mul (type $binary) (i32.mul (local.get 0) (local.get 1)))
                (func $pair (result i32 i64) (i32.const 7) (i64.const 9))
                (global $g (mut i32) (i32.const 5))
                (func (export "_start") (local $a i32) (local $b i64)
                  (call $i32 (call_indirect (type $binary) (i32.const 9) (i32.const 4) (i32.const 0)))
                  (call $i32 (call_indirect (type $binary) (i32.const 9) (i32.const 4) (i32.const 1)))
                  (call $pair)
                  (local.set $b)
                  (local.set $a)
                  (call $i32 (local.get $a))
                  (call $u64 (local.get $b))
                  (global.set $g (i32.mul (global.get $g) (i32.const 3)))
                  (call $i32 (global.get $g))
                  (call $i32 (table.size))
                  (block $c (block $b (block $a (br_table $a $b $c (i32.const 1))) (call $i32 (i32.const 100)))
                    (call $i32 (i32.const 200))))
                """)),
        Case(name: "unreachable", wat: program(#"(func (export "_start") (call $i32 (i32.const 1)) unreachable)"#)),
        Case(
            name: "integer division by zero",
            wat: program(#"(func (export "_start") (drop (i32.div_u (i32.const 1) (i32.const 0))))"#)),
        Case(
            name: "integer overflow",
            wat: program(#"(func (export "_start") (drop (i32.div_s (i32.const 0x80000000) (i32.const -1))))"#)),
        Case(
            name: "invalid conversion",
            wat: program(#"(func (export "_start") (drop (i32.trunc_f32_s (f32.const nan))))"#)),
        Case(
            name: "out-of-bounds load",
            wat: program(#"(func (export "_start") (drop (i32.load (i32.const 0x40000))))"#)),
        Case(
            name: "indirect call to a null element",
            wat: program(
                #"(type $t (func)) (table 2 funcref) (func (export "_start") (call_indirect (type $t) (i32.const 1)))"#)
        ),
        Case(
            name: "indirect call with the wrong signature",
            wat: program(
                #"(type $t (func (result i32))) (table 1 funcref) (elem (i32.const 0) $f) (func $f) (func (export "_start") (drop (call_indirect (type $t) (i32.const 0))))"#
            )),
        Case(
            name: "table access out of bounds",
            wat: program(
                #"(type $t (func)) (table 1 funcref) (func (export "_start") (call_indirect (type $t) (i32.const 5)))"#)
        ),
        Case(
            name: "arguments and environment",
            wat: program(
                """
                (func (export "_start")
                  (drop (call $args_sizes_get (i32.const 200) (i32.const 204)))
                  (call $i32 (i32.load (i32.const 200)))
                  (call $i32 (i32.load (i32.const 204)))
                  ;; The count only: WasmKit asks for one byte more per variable than it writes.
                  (drop (call $environ_sizes_get (i32.const 200) (i32.const 204)))
                  (call $i32 (i32.load (i32.const 200))))
                """),
            arguments: ["one", "two"], environment: ["A": "1", "LONGER": "value"]),
        Case(
            name: "clocks and random bytes",
            wat: program(
                """
                (func (export "_start")
                  (call $i32 (call $clock_time_get (i32.const 1) (i64.const 1) (i32.const 200)))
                  (call $i32 (i64.gt_u (i64.load (i32.const 200)) (i64.const 0)))
                  (call $i32 (call $clock_time_get (i32.const 0) (i64.const 1) (i32.const 200)))
                  (call $i32 (i64.gt_u (i64.load (i32.const 200)) (i64.const 1600000000000000000)))
                  (call $i32 (call $random_get (i32.const 300) (i32.const 64))))
                """)),
        Case(
            name: "stderr and exit code",
            wat: program(
                """
                (data (i32.const 1024) "oops\\n")
                (func (export "_start")
                  (drop (call $write (i32.const 2) (i32.const 1024) (i32.const 5)))
                  (call $proc_exit (i32.const 7)))
                """)),
        Case(
            name: "stdin echoed",
            wat: program(
                """
                (func (export "_start") (local $n i32)
                  (i32.store (i32.const 16) (i32.const 2048))
                  (i32.store (i32.const 20) (i32.const 4096))
                  (call $i32 (call $fd_read (i32.const 0) (i32.const 16) (i32.const 1) (i32.const 24)))
                  (local.set $n (i32.load (i32.const 24)))
                  (call $i32 (local.get $n))
                  (call $print (i32.const 2048) (local.get $n)))
                """),
            stdin: Array("echo me\n".utf8)),
        Case(
            name: "bad descriptors and no filesystem",
            wat: program(
                """
                (data (i32.const 1024) "etc/passwd")
                (func (export "_start")
                  (call $i32 (call $write (i32.const 9) (i32.const 1024) (i32.const 3)))
                  (call $i32 (call $fd_prestat_get (i32.const 3) (i32.const 200)))
                  (call $i32 (call $path_open (i32.const 3) (i32.const 0) (i32.const 1024) (i32.const 10)
                    (i32.const 0) (i64.const 2) (i64.const 0) (i32.const 0) (i32.const 200))))
                """)),
        Case(
            // Output and random bytes are the sandbox's own functions on both backends (EFAULT);
            // a pointer out of bounds in a call Wasmtime's WASI answers itself traps there, and
            // is EFAULT on WasmKit: both end safely, with different statuses.
            name: "out-of-bounds pointers to WASI",
            wat: program(
                """
                (func (export "_start")
                  (call $i32 (call $fd_write (i32.const 1) (i32.const 0xfffffff0) (i32.const 1) (i32.const 8)))
                  (call $i32 (call $random_get (i32.const 65530) (i32.const 100))))
                """)),
        Case(
            name: "a short sleep",
            wat: program(
                """
                (func (export "_start")
                  ;; One relative clock subscription of 1 ms, userdata 42.
                  (i64.store (i32.const 512) (i64.const 42))
                  (i32.store8 (i32.const 520) (i32.const 0))
                  (i32.store (i32.const 528) (i32.const 1))
                  (i64.store (i32.const 536) (i64.const 1000000))
                  (i64.store (i32.const 544) (i64.const 0))
                  (i32.store16 (i32.const 552) (i32.const 0))
                  (call $i32 (call $poll_oneoff (i32.const 512) (i32.const 600) (i32.const 1) (i32.const 700)))
                  (call $i32 (i32.load (i32.const 700)))
                  (call $u64 (i64.load (i32.const 600)))
                  (call $i32 (i32.load8_u (i32.const 610))))
                """)),
        Case(
            name: "fuel runs out on a loop",
            wat: program(#"(func (export "_start") (loop $l (br $l)))"#), fuel: 100_000),
        Case(
            name: "SIMD lanes",
            wat: program(
                """
                (func (export "_start")
                  (v128.store (i32.const 400)
                    (i32x4.add (v128.const i32x4 1 2 3 4) (v128.const i32x4 10 20 30 0xffffffff)))
                  (call $i32 (i32.load (i32.const 400)))
                  (call $i32 (i32.load (i32.const 412)))
                  (call $i32 (i8x16.extract_lane_u 15 (i8x16.splat (i32.const 0x1ff)))))
                """)),
        Case(
            name: "a module without memory",
            wat: #"(module (func (export "_start") (drop (i32.add (i32.const 1) (i32.const 2)))))"#),
    ]

    @Test(arguments: corpus) func bothBackendsAgree(_ program: Case) async throws {
        var results: [SandboxBackendKind: ExecutionResult] = [:]
        for backend in backends {
            try await onBackend(backend) {
                var given = ExecutionRequest(.wat(program.wat))
                given.arguments = program.arguments
                given.environment = program.environment
                given.stdin = program.stdin
                given.limits = ExecutionLimits(timeout: generousTimeout, fuel: program.fuel)
                results[backend] = await sharedSandbox.execute(given)
            }
        }
        let wasmtime = try #require(results[.wasmtime])
        let wasmkit = try #require(results[.wasmkit])
        #expect(wasmtime.status != .invalidInput && wasmtime.status != .internalError, "\(wasmtime.message ?? "")")
        #expect(wasmkit.status == wasmtime.status, "wasmkit: \(wasmkit.message ?? "")")
        #expect(wasmkit.exitCode == wasmtime.exitCode)
        #expect(wasmkit.trap == wasmtime.trap)
        #expect(wasmkit.stdoutText == wasmtime.stdoutText)
        #expect(wasmkit.stderrText == wasmtime.stderrText)
    }
}
