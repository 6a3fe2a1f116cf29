import Foundation
import Testing
import WasmSandbox

func runPython(
    _ source: String, arguments: [String] = [], stdin: [UInt8] = [], limits: ExecutionLimits? = nil,
    workspace: Workspace? = nil
) async -> ExecutionResult {
    // Timing is not what these tests check: a generous timeout holds on a loaded machine.
    await sharedSandbox.execute(
        request(
            .python(source), arguments: arguments, stdin: stdin,
            limits: limits ?? ExecutionLimits(timeout: generousTimeout),
            workspace: workspace))
}

@Suite("Python runs CPython 3.15 for WASI")
struct PythonBehaviourTests {
    @Test func helloArgumentsAndStdin() async {
        let result = await runPython(
            "import sys; print('hi', sys.argv[1:], sys.stdin.read().upper())", arguments: ["a", "b"],
            stdin: Array("input".utf8))
        #expect(result.status == .ok, "\(result.stderrText)")
        #expect(result.stdoutText == "hi ['a', 'b'] INPUT\n")
    }

    @Test func exceptionGivesATracebackAndExitOne() async {
        let result = await runPython("def f():\n    raise ValueError('bad value')\nf()")
        #expect(result.status == .exited)
        #expect(result.exitCode == 1)
        #expect(result.stderrText.hasPrefix("Traceback (most recent call last):"))
        #expect(result.stderrText.contains("line 2, in f"))
        #expect(result.stderrText.hasSuffix("ValueError: bad value\n"))
    }

    @Test func aFinalExpressionIsNotEchoedInAScriptRun() async {
        let result = await runPython("x = 20\nx + 22\nprint('done')\nx * 2")
        #expect(result.status == .ok, "\(result.stderrText)")
        #expect(result.stdoutText == "done\n")
    }

    @Test func theInterpreterIsPython315WithTheStackImportedAhead() async {
        let result = await runPython(
            """
            import sys
            print(sys.version_info[:2], sys.executable)
            print(all(m in sys.modules for m in ('numpy', 'pandas', 'matplotlib.pyplot')))
            import matplotlib
            print(matplotlib.get_backend())
            """)
        #expect(result.status == .ok, "\(result.stderrText)")
        #expect(result.stdoutText == "(3, 15) /usr/local/bin/python.wasm\nTrue\nAgg\n")
    }

    @Test func unicodeSourceOutputAndArguments() async {
        let result = await runPython(
            "import sys\nnombre = 'wörld ✓ 日本語 🐍'\nprint(f'héllo {nombre}', sys.argv[1:], len(sys.argv[1]))",
            arguments: ["🐍'\"\\", ""])
        #expect(result.status == .ok, "\(result.stderrText)")
        #expect(result.stdoutText == "héllo wörld ✓ 日本語 🐍 ['🐍\\'\"\\\\', ''] 4\n")
    }

    @Test func environmentIsExactlyTheRequests() async {
        var request = ExecutionRequest(.python("import os; print(sorted(os.environ.items()))"))
        request.environment = ["GREETING": "hi", "EMPTY": ""]
        request.limits = ExecutionLimits(timeout: generousTimeout)
        let result = await sharedSandbox.execute(request)
        #expect(result.status == .ok, "\(result.stderrText)")
        #expect(result.stdoutText == "[('EMPTY', ''), ('GREETING', 'hi')]\n")
        #expect(await runPython("import os; print(dict(os.environ))").stdoutText == "{}\n")
    }

    /// HumanEval-style tasks: plain functions checked by asserts, exactly as under CPython.
    @Test func plainFunctionsAndAssertsRunAsUnderCPython() async {
        let solution = """
            from typing import List

            def has_close_elements(numbers: List[float], threshold: float) -> bool:
                return any(abs(a - b) < threshold for i, a in enumerate(numbers) for b in numbers[i + 1:])

            def check(candidate):
                assert candidate([1.0, 2.0, 3.9, 4.0, 5.0, 2.2], 0.3) == True
                assert candidate([1.0, 2.0, 5.9, 4.0, 5.0], 0.8) == False

            check(has_close_elements)
            """
        let passing = await runPython(solution)
        #expect(passing.status == .ok, "\(passing.stderrText)")
        #expect(passing.stdoutText == "")
        let failing = await runPython(solution.replacingOccurrences(of: "< threshold", with: "> threshold"))
        #expect(failing.status == .exited)
        #expect(failing.exitCode == 1)
        #expect(failing.stderrText.contains("line 8, in check"), "\(failing.stderrText)")
        #expect(failing.stderrText.hasSuffix("AssertionError\n"), "\(failing.stderrText)")
    }

    @Test func randomSourcesAreReseededOnEveryRun() async {
        let source =
            "import random, numpy; print(random.random(), numpy.random.rand(), numpy.random.default_rng().random())"
        let first = await runPython(source)
        let second = await runPython(source)
        #expect(first.status == .ok && second.status == .ok, "\(first.stderrText) \(second.stderrText)")
        let a = first.stdoutText.split(separator: " ")
        let b = second.stdoutText.split(separator: " ")
        #expect(a.count == 3 && b.count == 3)
        // Each source differs between the two runs: none is frozen in the snapshot.
        for (x, y) in zip(a, b) { #expect(x != y, "\(first.stdoutText) \(second.stdoutText)") }
    }

    @Test func theClockIsLive() async throws {
        let source = "import time, datetime; print(time.time()); print(datetime.datetime.now().year)"
        let before = Date().timeIntervalSince1970
        let first = await runPython(source)
        let second = await runPython(source)
        let after = Date().timeIntervalSince1970
        let times = [first, second].compactMap { Double($0.stdoutText.split(separator: "\n").first ?? "") }
        #expect(times.count == 2, "\(first.stdoutText) \(second.stdoutText)")
        // The guest reads the host's clock, not the moment the snapshot was made.
        #expect(times.allSatisfy { $0 >= before - 1 && $0 <= after + 1 }, "\(times) not within \(before)...\(after)")
        #expect(times[1] >= times[0])
        let year = Calendar(identifier: .gregorian).component(.year, from: Date())
        #expect(first.stdoutText.hasSuffix("\n\(year)\n") || first.stdoutText.hasSuffix("\n\(year - 1)\n"))
    }

    @Test func sysExitGivesTheCode() async {
        let result = await runPython("import sys; sys.exit(3)")
        #expect(result.status == .exited)
        #expect(result.exitCode == 3)
    }

    @Test func syntaxErrorIsReported() async {
        let result = await runPython("print('ok')\ndef broken(:\n")
        #expect(result.exitCode == 1)
        #expect(result.stderrText.contains("line 2"))
        #expect(result.stderrText.contains("SyntaxError"))
    }

    @Test func representativeStandardLibrarySlice() async {
        let script = """
            import json, re, math, decimal, fractions, statistics, datetime, collections, itertools
            import functools, dataclasses, typing, textwrap, csv, io, hashlib, random, heapq, bisect, string
            @dataclasses.dataclass
            class Point:
                x: int
                y: int
            out = io.StringIO()
            csv.writer(out).writerow(["a", 1])
            checks = [
                json.loads(json.dumps({"k": [1, 2]})) == {"k": [1, 2]},
                re.findall(r"\\d+", "a1b22") == ["1", "22"],
                math.isclose(math.sqrt(2) ** 2, 2),
                decimal.Decimal("0.1") + decimal.Decimal("0.2") == decimal.Decimal("0.3"),
                fractions.Fraction(1, 3) * 3 == 1,
                statistics.median([3, 1, 2]) == 2,
                datetime.date(2024, 3, 1) - datetime.timedelta(days=1) == datetime.date(2024, 2, 29),
                collections.Counter("abca").most_common(1) == [("a", 2)],
                list(itertools.islice(itertools.count(5), 3)) == [5, 6, 7],
                functools.reduce(lambda a, b: a * b, range(1, 6)) == 120,
                Point(1, 2) == Point(1, 2),
                typing.get_type_hints(Point) == {"x": int, "y": int},
                textwrap.shorten("hello world again", 12) == "hello [...]",
                out.getvalue() == "a,1\\r\\n",
                hashlib.sha256(b"abc").hexdigest().startswith("ba7816bf"),
                len({random.random() for _ in range(5)}) == 5,
                heapq.nsmallest(2, [5, 1, 4]) == [1, 4],
                bisect.bisect([1, 3, 5], 4) == 2,
                string.ascii_lowercase[:3] == "abc",
            ]
            print(checks.count(True), "of", len(checks))
            """
        let result = await runPython(script)
        #expect(result.status == .ok, "\(result.stderrText)")
        #expect(result.stdoutText == "19 of 19\n")
    }

    @Test(arguments: [
        ("import threading; threading.Thread(target=print).start()", "RuntimeError: can't start new thread"),
        ("import subprocess; subprocess.run(['ls'])", "wasi does not support processes"),
        ("import socket; socket.socket()", "OSError: [Errno 58] Not supported"),
        ("import os; os.system('ls')", "has no attribute 'system'"),
    ])
    func unsupportedFeaturesFailWithAPythonError(source: String, error: String) async {
        let result = await runPython(source, limits: ExecutionLimits(timeout: .seconds(120)))
        #expect(result.status == .exited)
        #expect(result.exitCode == 1)
        #expect(result.stderrText.contains(error), "\(result.stderrText)")
    }
}

@Suite("Python attacks, files and concurrency")
struct PythonAttackTests {
    @Test func sleepsAreRealAndInterruptible() async {
        let short = await runPython(
            "import time; t = time.monotonic(); time.sleep(0.05); print(time.monotonic() - t >= 0.05)")
        #expect(short.stdoutText == "True\n", "\(short.stderrText)")
        let long = await runPython(
            "import time; time.sleep(3600)", limits: ExecutionLimits(timeout: .milliseconds(500)))
        #expect(long.status == .timedOut)
        #expect(long.duration < .seconds(60))
    }

    @Test func infiniteLoopTimesOut() async {
        let result = await runPython("while True: pass", limits: ExecutionLimits(timeout: .milliseconds(500)))
        #expect(result.status == .timedOut)
        #expect(result.duration >= .milliseconds(500))
        // The loop never ends by itself: ending at all proves the deadline stopped it. The bound
        // is generous so that a loaded machine (parallel tests, two cores) cannot fail it.
        #expect(result.duration < .seconds(30))
    }

    /// Each bomb ends one way only: an allocation too large to ask for, one refused whole
    /// (memory never grows), or growth step by step until the cap refuses it.
    @Test(arguments: [
        (
            "x = bytearray(10**10)", ExecutionResult.Status.exited,
            "OverflowError: cannot fit 'int' into an index-sized integer\n"
        ),
        ("x = bytearray(10**9)", .exited, "MemoryError\n"),
        ("x = []\nwhile True: x.append(' ' * 10000)", .memoryLimit, "MemoryError\n"),
    ])
    func memoryBombsStopAndTheHostIsUntouched(source: String, status: ExecutionResult.Status, error: String) async {
        // The engine starts with 81 MiB: a cap three times that tells a refused whole
        // allocation (memory well below the cap) from growth up to it.
        let result = await runPython(source, limits: ExecutionLimits(timeout: generousTimeout, memoryBytes: 256 << 20))
        #expect(result.status == status, "\(result.message ?? "")")
        #expect(result.stderrText.hasSuffix(error), "\(result.stderrText)")
        #expect(result.exitCode == 1)
        #expect(result.memoryPeakBytes <= 256 << 20)
        let alive = await runPython("print('alive')")
        #expect(
            alive.stdoutText == "alive\n", "\(alive.status): \(alive.message ?? "") \(alive.stderrText.suffix(300))")
    }

    @Test func deepRecursionNeverCrashesTheHost() async {
        let result = await runPython(
            "import sys\nsys.setrecursionlimit(10**6)\ndef f(n): return f(n + 1) + 1\nf(0)",
            limits: ExecutionLimits(timeout: generousTimeout, memoryBytes: 160 << 20))
        // Python 3.15 keeps frames on the heap, so the recursion fills memory up to the cap;
        // freeing the million-deep traceback after the MemoryError then recurses in C until
        // the Wasm stack guard traps. The generous timeout leaves that as the only ending.
        #expect(result.status == .memoryLimit, "\(result.message ?? "")")
        #expect(result.trap == "stack_overflow")
        #expect(result.memoryPeakBytes == 160 << 20)
        #expect(await runPython("print('alive')").stdoutText == "alive\n")
    }

    @Test func printFloodHitsTheOutputCap() async {
        let result = await runPython(
            "while True: print('flood')", limits: ExecutionLimits(timeout: generousTimeout, stdoutBytes: 50_000))
        #expect(result.status == .outputLimit)
        #expect(result.stdout.count == 50_000)
    }

    @Test(arguments: [
        "open('/etc/passwd').read()", "import os; os.listdir('/')", "open('/workspace/../etc/passwd').read()",
        "open('../secret.txt').read()",
    ])
    func hostFilesAreUnreachable(source: String) async throws {
        let workspace = try Workspace()
        let result = await runPython(source, workspace: workspace)
        #expect(result.exitCode == 1)
        #expect(result.stderrText.contains("Error"), "\(result.stderrText)")
        #expect(!result.stdoutText.contains("root:"))
    }

    @Test func workspaceFilesGoInAndComeOut() async throws {
        let workspace = try Workspace(files: ["input/data.csv": Array("a,b\n1,2\n".utf8)])
        let result = await runPython(
            """
            import csv, json
            rows = list(csv.reader(open('/workspace/input/data.csv')))
            with open('/workspace/out.json', 'w') as f:
                json.dump(rows, f)
            print(len(rows))
            """, workspace: workspace)
        #expect(result.status == .ok, "\(result.stderrText)")
        #expect(result.stdoutText == "2\n")
        #expect(
            result.files == [WorkspaceFile(path: "input/data.csv", size: 8), WorkspaceFile(path: "out.json", size: 24)])
        #expect(workspace.contents(of: "out.json") == Array(#"[["a", "b"], ["1", "2"]]"#.utf8))
        workspace.remove()
        #expect(!FileManager.default.fileExists(atPath: workspace.directory.path))
    }

    @Test func writingPastTheWorkspaceCapStopsTheRun() async throws {
        let workspace = try Workspace()
        var limits = ExecutionLimits(timeout: .seconds(120))
        limits.workspaceBytes = 1 << 20
        let result = await runPython(
            "f = open('/workspace/big.bin', 'wb')\nwhile True:\n    f.write(b'x' * 65536)\n    f.flush()",
            limits: limits, workspace: workspace)
        #expect(result.status == .outputLimit)
        #expect(result.message?.contains("file quota") == true)
        #expect(result.stderrText.contains("OSError"))
        // Sixteen chunks fit the quota exactly; the seventeenth was refused whole.
        #expect(workspace.files() == [WorkspaceFile(path: "big.bin", size: 1 << 20)])
    }

    @Test func symlinksInAWorkspaceAreNeverFollowedWhenReadingBack() async throws {
        let workspace = try Workspace(files: ["real.txt": Array("real".utf8)])
        // A link as a guest might leave it, pointing at a host file.
        try FileManager.default.createSymbolicLink(
            atPath: workspace.directory.appendingPathComponent("link").path, withDestinationPath: "/etc/passwd")
        #expect(workspace.contents(of: "link") == nil)
        #expect(workspace.contents(of: "real.txt") == Array("real".utf8))
        #expect(workspace.contents(of: "../real.txt") == nil)
        #expect(workspace.files().map(\.path) == ["real.txt"])
        // A guest trying to make one is refused; had it made one, the link would be ignored too.
        let attempt = await runPython(
            "import os; os.symlink('/etc/passwd', '/workspace/guest-link')", workspace: workspace)
        // A link out of the workspace is refused (EPERM), as the attack tests show for WAT guests.
        #expect(attempt.status == .exited)
        #expect(attempt.exitCode == 1)
        #expect(
            attempt.stderrText.hasSuffix(
                "PermissionError: [Errno 63] Operation not permitted: '/etc/passwd' -> '/workspace/guest-link'\n"),
            "\(attempt.stderrText)")
        #expect(workspace.contents(of: "guest-link") == nil)
        #expect(workspace.files().map(\.path) == ["real.txt"])
    }

    @Test func invalidWorkspaceFileNamesAreRejected() {
        #expect(throws: SandboxError.self) { try Workspace(files: ["../escape": [1]]) }
        #expect(throws: SandboxError.self) { try Workspace(files: ["/abs": [1]]) }
    }

    @Test func fiftyConcurrentPythonRunsAllSucceed() async {
        let results = await withTaskGroup(of: ExecutionResult.self) { group in
            for index in 0..<50 {
                group.addTask {
                    await runPython("import sys; print(sum(range(int(sys.argv[1]))))", arguments: ["\(index)"])
                }
            }
            return await group.reduce(into: []) { $0.append($1) }
        }
        #expect(results.count == 50)
        #expect(
            results.allSatisfy { $0.status == .ok },
            "\(results.filter { $0.status != .ok }.map { "\($0.status): \($0.message ?? "")" })")
        let sums = Set(results.map(\.stdoutText))
        #expect(sums == Set((0..<50).map { "\($0 * ($0 - 1) / 2)\n" }))
    }
}
