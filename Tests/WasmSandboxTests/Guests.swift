/// Small WASI guests written in WAT, each one a behaviour or an attack the tests drive.
enum Guests {
    /// Declares the WASI imports the guests use and a one-page-or-more memory.
    static func module(_ body: String, memoryPages: Int = 1) -> String {
        """
        (module
          (import "wasi_snapshot_preview1" "fd_write" (func $fd_write (param i32 i32 i32 i32) (result i32)))
          (import "wasi_snapshot_preview1" "fd_read" (func $fd_read (param i32 i32 i32 i32) (result i32)))
          (import "wasi_snapshot_preview1" "proc_exit" (func $proc_exit (param i32)))
          (import "wasi_snapshot_preview1" "args_sizes_get" (func $args_sizes_get (param i32 i32) (result i32)))
          (import "wasi_snapshot_preview1" "args_get" (func $args_get (param i32 i32) (result i32)))
          (import "wasi_snapshot_preview1" "environ_sizes_get" (func $environ_sizes_get (param i32 i32) (result i32)))
          (import "wasi_snapshot_preview1" "poll_oneoff" (func $poll_oneoff (param i32 i32 i32 i32) (result i32)))
          (import "wasi_snapshot_preview1" "path_open"
            (func $path_open (param i32 i32 i32 i32 i32 i64 i64 i32 i32) (result i32)))
          (memory (export "memory") \(memoryPages))
          ;; write(fd, address, length): one iovec at 0, bytes written at 8.
          (func $write (param $fd i32) (param $address i32) (param $length i32) (result i32)
            (i32.store (i32.const 0) (local.get $address))
            (i32.store (i32.const 4) (local.get $length))
            (call $fd_write (local.get $fd) (i32.const 0) (i32.const 1) (i32.const 8)))
          ;; The address of argv[index] (NUL-terminated) after args_get into 1024.., or 0.
          (func $arg (param $index i32) (result i32)
            (drop (call $args_sizes_get (i32.const 16) (i32.const 20)))
            (if (i32.ge_u (local.get $index) (i32.load (i32.const 16))) (then (return (i32.const 0))))
            (drop (call $args_get (i32.const 1024) (i32.const 2048)))
            (i32.load (i32.add (i32.const 1024) (i32.mul (local.get $index) (i32.const 4)))))
          (func $strlen (param $s i32) (result i32) (local $n i32)
            (block $done (loop $next
              (br_if $done (i32.eqz (i32.load8_u (i32.add (local.get $s) (local.get $n)))))
              (local.set $n (i32.add (local.get $n) (i32.const 1)))
              (br $next)))
            (local.get $n))
          \(body))
        """
    }

    static let hello = module(
        """
        (data (i32.const 512) "hello\\n")
        (func (export "_start") (drop (call $write (i32.const 1) (i32.const 512) (i32.const 6))))
        """)

    static let spin = module(#"(func (export "_start") (loop $forever (br $forever)))"#)

    /// Counts forever: burns fuel at a steady rate.
    static let count = module(
        """
        (func (export "_start") (local $i i32)
          (loop $forever (local.set $i (i32.add (local.get $i) (i32.const 1))) (br $forever)))
        """)

    /// Grows memory 1 MiB at a time; when growth is refused it traps, as a failing allocator would.
    static let memoryBomb = module(
        """
        (func (export "_start")
          (loop $grow
            (if (i32.eq (memory.grow (i32.const 16)) (i32.const -1)) (then unreachable))
            (br $grow)))
        """)

    static let recursion = module(
        """
        (func $deeper (param $depth i64) (result i64)
          (i64.add (call $deeper (i64.add (local.get $depth) (i64.const 1))) (i64.const 1)))
        (func (export "_start") (drop (call $deeper (i64.const 0))))
        """)

    /// Writes 4 KiB blocks to stdout forever.
    static let stdoutFlood = module(
        #"(func (export "_start") (loop $again (drop (call $write (i32.const 1) (i32.const 4096) (i32.const 4096))) (br $again)))"#,
        memoryPages: 2)

    /// Sleeps through WASI poll_oneoff on a relative monotonic clock for argv[1] milliseconds.
    static let sleep = module(
        """
        (func $parse (param $s i32) (result i64) (local $n i64) (local $c i32)
          (block $done (loop $next
            (local.set $c (i32.load8_u (local.get $s)))
            (br_if $done (i32.eqz (local.get $c)))
            (local.set $n (i64.add (i64.mul (local.get $n) (i64.const 10)) (i64.extend_i32_u (i32.sub (local.get $c) (i32.const 48)))))
            (local.set $s (i32.add (local.get $s) (i32.const 1)))
            (br $next)))
          (local.get $n))
        (func (export "_start")
          ;; subscription at 128: userdata 7, tag clock, clock id monotonic, timeout in ns
          (i64.store (i32.const 128) (i64.const 7))
          (i32.store8 (i32.const 136) (i32.const 0))
          (i32.store (i32.const 144) (i32.const 1))
          (i64.store (i32.const 152) (i64.mul (call $parse (call $arg (i32.const 1))) (i64.const 1000000)))
          (i64.store (i32.const 160) (i64.const 0))
          (i32.store16 (i32.const 168) (i32.const 0))
          (if (call $poll_oneoff (i32.const 128) (i32.const 256) (i32.const 1) (i32.const 300))
            (then (call $proc_exit (i32.const 2))))
          ;; exactly one event, for our subscription
          (if (i32.ne (i32.load (i32.const 300)) (i32.const 1)) (then (call $proc_exit (i32.const 3))))
          (if (i64.ne (i64.load (i32.const 256)) (i64.const 7)) (then (call $proc_exit (i32.const 4)))))
        """)

    /// Creates argv[1] in the first preopened directory, then waits (polling every 5 ms) until
    /// argv[2] exists there, and exits 0: a run that lasts until the test lets it go, not for
    /// a time that a loaded machine might overrun.
    static let gate = module(
        """
        (func (export "_start") (local $errno i32)
          ;; oflags creat, rights fd_write
          (local.set $errno (call $path_open (i32.const 3) (i32.const 0) (call $arg (i32.const 1))
            (call $strlen (call $arg (i32.const 1))) (i32.const 1) (i64.const 64) (i64.const 64) (i32.const 0) (i32.const 24)))
          (if (local.get $errno) (then (call $proc_exit (local.get $errno))))
          ;; subscription at 128: userdata 7, tag clock, clock id monotonic, 5 ms relative
          (i64.store (i32.const 128) (i64.const 7))
          (i32.store8 (i32.const 136) (i32.const 0))
          (i32.store (i32.const 144) (i32.const 1))
          (i64.store (i32.const 152) (i64.const 5000000))
          (i64.store (i32.const 160) (i64.const 0))
          (i32.store16 (i32.const 168) (i32.const 0))
          (loop $wait
            ;; rights fd_read; a failed open (no such file yet) sleeps and tries again
            (if (call $path_open (i32.const 3) (i32.const 0) (call $arg (i32.const 2))
                  (call $strlen (call $arg (i32.const 2))) (i32.const 0) (i64.const 2) (i64.const 2) (i32.const 0) (i32.const 24))
              (then
                (drop (call $poll_oneoff (i32.const 128) (i32.const 256) (i32.const 1) (i32.const 300)))
                (br $wait)))))
        """)

    /// Copies stdin to stdout until end of file.
    static let cat = module(
        """
        (func (export "_start") (local $n i32)
          (loop $again
            (i32.store (i32.const 32) (i32.const 4096))
            (i32.store (i32.const 36) (i32.const 4096))
            (if (call $fd_read (i32.const 0) (i32.const 32) (i32.const 1) (i32.const 40)) (then (call $proc_exit (i32.const 9))))
            (local.set $n (i32.load (i32.const 40)))
            (if (local.get $n) (then
              (drop (call $write (i32.const 1) (i32.const 4096) (local.get $n)))
              (br $again)))))
        """,
        memoryPages: 2)

    static let exit3 = module(#"(func (export "_start") (call $proc_exit (i32.const 3)))"#)

    /// Exits with the number of environment variables it can see.
    static let environmentCount = module(
        """
        (func (export "_start")
          (drop (call $environ_sizes_get (i32.const 16) (i32.const 20)))
          (call $proc_exit (i32.load (i32.const 16))))
        """)

    /// Exits with its argument count.
    static let argumentCount = module(
        """
        (func (export "_start")
          (drop (call $args_sizes_get (i32.const 16) (i32.const 20)))
          (call $proc_exit (i32.load (i32.const 16))))
        """)

    /// Opens argv[1] relative to the first preopened directory (fd 3), following symlinks,
    /// and copies it to stdout. Exits with the WASI errno when the open fails.
    static let readFile = module(
        """
        (func (export "_start") (local $path i32) (local $errno i32) (local $n i32)
          (local.set $path (call $arg (i32.const 1)))
          (local.set $errno (call $path_open (i32.const 3) (i32.const 1) (local.get $path) (call $strlen (local.get $path))
            (i32.const 0) (i64.const 2) (i64.const 2) (i32.const 0) (i32.const 24)))
          (if (local.get $errno) (then (call $proc_exit (local.get $errno))))
          (loop $again
            (i32.store (i32.const 32) (i32.const 4096))
            (i32.store (i32.const 36) (i32.const 4096))
            (drop (call $fd_read (i32.load (i32.const 24)) (i32.const 32) (i32.const 1) (i32.const 40)))
            (local.set $n (i32.load (i32.const 40)))
            (if (local.get $n) (then
              (drop (call $write (i32.const 1) (i32.const 4096) (local.get $n)))
              (br $again)))))
        """,
        memoryPages: 2)

    /// Creates argv[1] in the first preopened directory and writes "written" into it. Exits
    /// with the WASI errno when the open fails.
    static let writeFile = module(
        """
        (data (i32.const 512) "written")
        (func (export "_start") (local $path i32) (local $errno i32)
          (local.set $path (call $arg (i32.const 1)))
          ;; oflags creat|trunc, rights fd_write
          (local.set $errno (call $path_open (i32.const 3) (i32.const 0) (local.get $path) (call $strlen (local.get $path))
            (i32.const 9) (i64.const 64) (i64.const 64) (i32.const 0) (i32.const 24)))
          (if (local.get $errno) (then (call $proc_exit (local.get $errno))))
          (drop (call $write (i32.load (i32.const 24)) (i32.const 512) (i32.const 7))))
        """)

    /// Hands the sandbox's own host functions addresses outside its memory: an iovec list
    /// past the end for fd_write, then subscriptions running past the end for poll_oneoff.
    /// Exits with 10 when fd_write answered EFAULT (21), plus 1 when poll_oneoff did.
    static let badPointers = module(
        """
        (func (export "_start") (local $write i32) (local $poll i32)
          (local.set $write (call $fd_write (i32.const 1) (i32.const 65530) (i32.const 100) (i32.const 8)))
          (local.set $poll (call $poll_oneoff (i32.const 65000) (i32.const 1024) (i32.const 100) (i32.const 8)))
          (call $proc_exit (i32.add (i32.mul (i32.eq (local.get $write) (i32.const 21)) (i32.const 10))
                                    (i32.eq (local.get $poll) (i32.const 21)))))
        """)

    static let divideByZero = module(
        #"(func (export "_start") (drop (i32.div_u (i32.const 1) (i32.sub (i32.const 1) (i32.const 1)))))"#)
}
