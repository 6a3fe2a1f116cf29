import Foundation
import Testing
import WasmSandbox

func runJS(_ source: String, arguments: [String] = [], limits: ExecutionLimits? = nil) async -> ExecutionResult {
    await sharedSandbox.execute(request(.javascript(source), arguments: arguments, limits: limits))
}

@Suite("JavaScript runs like Node's console shows it")
struct JavaScriptBehaviourTests {
    @Test(arguments: backends) func helloWorld(backend: SandboxBackendKind) async throws {
        try await onBackend(backend) {
            let result = await runJS(#"console.log("hi")"#)
            #expect(result.status == .ok, "\(result.stderrText)")
            #expect(result.stdoutText == "hi\n")
        }
    }

    @Test(arguments: backends) func longArraysMapsAndSetsShowTheirFirstHundredEntries(backend: SandboxBackendKind)
        async throws
    {
        try await onBackend(backend) {
            // A million-entry Map was once shown in full: seconds of work, as a session's value too.
            let shown = await runJS(
                """
                const n = 1000;
                console.log(new Map(Array.from({ length: n }, (_, i) => [i, i])));
                console.log(new Set(Array.from({ length: n }, (_, i) => i)));
                """)
            #expect(shown.status == .ok, "\(shown.stderrText)")
            let lines = shown.stdoutText.split(separator: "\n")
            #expect(lines.filter { $0.hasSuffix("... 900 more items") }.count == 2, "\(shown.stdoutText.suffix(200))")
            #expect(lines.filter { $0.contains(" => ") }.count == 100)
            #expect(!shown.stdoutText.contains("100 => 100"))
        }
    }

    @Test(arguments: backends) func consoleFormatsValuesAsNodeDoes(backend: SandboxBackendKind) async throws {
        try await onBackend(backend) {
            let result = await runJS(
                """
                console.log("text", 42, -0, 10n, true, null, undefined, Symbol("s"));
                console.log({ a: 1, b: "two", c: [1, 2, { d: 3 }], "odd key": null });
                console.log([1, [2, [3, [4, [5]]]]], { deep: { deeper: { deepest: { gone: 1 } } } });
                const cycle = { name: "loop" }; cycle.self = cycle; console.log(cycle);
                console.log(new Map([["k", 1]]), new Set([1, 2]), [], {}, function named() {}, class Klass {});
                console.log("%s is %d years", "Bob", 42, "extra");
                console.info("info"); console.debug("debug");
                """)
            #expect(result.status == .ok, "\(result.stderrText)")
            let lines = result.stdoutText.split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
            #expect(lines[0] == "text 42 -0 10n true null undefined Symbol(s)")
            #expect(lines[1] == "{ a: 1, b: 'two', c: [ 1, 2, { d: 3 } ], 'odd key': null }")
            #expect(lines[2] == "[ 1, [ 2, [ 3, [Array] ] ] ] { deep: { deeper: { deepest: [Object] } } }")
            #expect(lines[3] == "<ref *1> { name: 'loop', self: [Circular *1] }")
            #expect(lines[4] == "Map(1) { 'k' => 1 } Set(2) { 1, 2 } [] {} [Function: named] [class Klass]")
            #expect(lines[5] == "Bob is 42 years extra")
            #expect(lines[6] == "info")
            #expect(lines[7] == "debug")
        }
    }

    @Test(arguments: backends) func warnAndErrorGoToStderr(backend: SandboxBackendKind) async throws {
        try await onBackend(backend) {
            let result = await runJS(
                #"console.warn("careful"); console.error("bad", { code: 7 }); console.log("fine")"#)
            #expect(result.stdoutText == "fine\n")
            #expect(result.stderrText == "careful\nbad { code: 7 }\n")
        }
    }

    @Test(arguments: backends) func uncaughtExceptionPrintsNameMessageAndStack(backend: SandboxBackendKind) async throws
    {
        try await onBackend(backend) {
            let result = await runJS(
                """
                function explode() { throw new TypeError("it broke") }
                explode()
                """)
            #expect(result.status == .exited)
            #expect(result.exitCode == 1)
            #expect(result.stderrText.hasPrefix("TypeError: it broke\n"))
            #expect(result.stderrText.contains("at explode (<script>:1:"))
        }
    }

    @Test(arguments: backends) func syntaxErrorNamesLineAndColumn(backend: SandboxBackendKind) async throws {
        try await onBackend(backend) {
            let result = await runJS("let ok = 1;\nlet broken = ;\n")
            #expect(result.exitCode == 1)
            #expect(result.stderrText.hasPrefix("SyntaxError:"))
            #expect(result.stderrText.contains("<script>:2:14"), "\(result.stderrText)")
        }
    }

    @Test(arguments: backends) func promisesAsyncFunctionsAndTopLevelAwaitRunToCompletion(backend: SandboxBackendKind)
        async throws
    {
        try await onBackend(backend) {
            let result = await runJS(
                """
                async function later(value) { await null; return value * 2 }
                Promise.resolve(1).then(v => console.log("then", v));
                console.log("awaited", await later(21));
                await new Promise(resolve => setTimeout(resolve, 10));
                setTimeout(() => console.log("timer", scriptArgs.join(",")), 0);
                """, arguments: ["a", "b"])
            #expect(result.status == .ok, "\(result.stderrText)")
            #expect(result.stdoutText == "then 1\nawaited 42\ntimer a,b\n")
        }
    }

    @Test(arguments: backends) func neverSettlingTopLevelAwaitEndsAndSaysSo(backend: SandboxBackendKind) async throws {
        try await onBackend(backend) {
            let result = await runJS("await new Promise(() => {}); console.log('unreachable')")
            #expect(result.status == .exited)
            #expect(result.exitCode == 13)
            #expect(result.stderrText.contains("never settled"))
            #expect(result.stdout.isEmpty)
        }
    }

    @Test(arguments: backends) func unhandledRejectionFailsTheRun(backend: SandboxBackendKind) async throws {
        try await onBackend(backend) {
            let result = await runJS("Promise.reject(new RangeError('nope'))")
            #expect(result.exitCode == 1)
            #expect(result.stderrText.hasPrefix("Uncaught (in promise) RangeError: nope"))
        }
    }

    @Test(arguments: ["import fs from 'fs'", "await import('fs')", "const m = await import('./x.js')"])
    func importIsAClearError(source: String) async {
        let result = await runJS(source)
        #expect(result.exitCode == 1)
        #expect(result.stderrText.contains("import"), "\(result.stderrText)")
        #expect(result.stderrText.contains("not") && result.stderrText.contains("sandbox"), "\(result.stderrText)")
    }

    @Test(arguments: backends) func noHostAccessBeyondStdio(backend: SandboxBackendKind) async throws {
        try await onBackend(backend) {
            let result = await runJS(
                "console.log(typeof require, typeof process, typeof std, typeof os, typeof fetch, typeof XMLHttpRequest)"
            )
            #expect(result.stdoutText == "undefined undefined undefined undefined undefined undefined\n")
        }
    }

    @Test(arguments: backends) func stateNeverLeaksBetweenRuns(backend: SandboxBackendKind) async throws {
        try await onBackend(backend) {
            #expect(await runJS("globalThis.leaked = 'secret'; var alsoLeaked = 1").status == .ok)
            let second = await runJS("console.log(typeof leaked, typeof alsoLeaked)")
            #expect(second.stdoutText == "undefined undefined\n")
        }
    }

    @Test(arguments: backends) func mathRandomDiffersBetweenRuns(backend: SandboxBackendKind) async throws {
        try await onBackend(backend) {
            let script = "console.log(Math.random(), Math.random())"
            let first = await runJS(script).stdoutText
            let second = await runJS(script).stdoutText
            #expect(!first.isEmpty)
            #expect(first != second)
        }
    }

    @Test(arguments: backends) func clocksAreLive(backend: SandboxBackendKind) async throws {
        try await onBackend(backend) {
            let before = Date().timeIntervalSince1970 * 1000
            let result = await runJS("console.log(Date.now())")
            let seen = Double(result.stdoutText.trimmingCharacters(in: .whitespacesAndNewlines)) ?? 0
            #expect(seen >= before - 1000 && seen <= Date().timeIntervalSince1970 * 1000 + 1000)
        }
    }
}

@Suite("JavaScript attacks and bad input")
struct JavaScriptAttackTests {
    @Test(arguments: backends) func infiniteLoopTimesOut(backend: SandboxBackendKind) async throws {
        try await onBackend(backend) {
            let result = await runJS("while (true) {}", limits: ExecutionLimits(timeout: .milliseconds(300)))
            #expect(result.status == .timedOut)
            #expect(result.duration >= .milliseconds(300))
            // The loop never ends by itself: ending at all proves the deadline stopped it. The bound
            // is generous so that a loaded machine (parallel tests, two cores) cannot fail it.
            #expect(result.duration < .seconds(30))
        }
    }

    @Test(arguments: backends) func asyncFunctionLoopingForeverTimesOut(backend: SandboxBackendKind) async throws {
        try await onBackend(backend) {
            let result = await runJS(
                "async function spin() { for (;;) { await null } } await spin()",
                limits: ExecutionLimits(timeout: .milliseconds(300)))
            #expect(result.status == .timedOut)
        }
    }

    @Test(arguments: backends) func timerFarPastTheDeadlineEndsAtTheDeadline(backend: SandboxBackendKind) async throws {
        try await onBackend(backend) {
            let result = await runJS(
                "setTimeout(() => console.log('late'), 3600 * 1000)",
                limits: ExecutionLimits(timeout: .milliseconds(300)))
            #expect(result.status == .timedOut)
            #expect(result.duration >= .milliseconds(300))
            // The timer is an hour away: ending within seconds proves the deadline cut the wait
            // short. The bound is generous so that a loaded machine cannot fail it.
            #expect(result.duration < .seconds(30))
            #expect(result.stdout.isEmpty)
        }
    }

    @Test(arguments: backends) func memoryBombHitsTheLimitAndTheHostIsUntouched(backend: SandboxBackendKind)
        async throws
    {
        try await onBackend(backend) {
            let result = await runJS(
                // Megabyte buffers: the interpreter backend fills them in one instruction each.
                "const hoard = []; for (;;) hoard.push(new Uint8Array(1 << 20))",
                limits: ExecutionLimits(timeout: .seconds(120), memoryBytes: 16 << 20))
            #expect(result.status == .memoryLimit, "\(result.status) \(result.stderrText) \(result.message ?? "")")
            #expect(result.memoryPeakBytes <= 16 << 20)
            #expect(await runJS("console.log('still here')").stdoutText == "still here\n")
        }
    }

    @Test(arguments: backends) func deepRecursionIsACleanRangeError(backend: SandboxBackendKind) async throws {
        try await onBackend(backend) {
            let result = await runJS("let depth = 0; function f() { depth++; return f() + 1 } f()")
            #expect(result.status == .exited)
            #expect(result.stderrText.hasPrefix("RangeError: Maximum call stack size exceeded"))
            let caught = await runJS(
                "let depth = 0; function f() { depth++; f() } try { f() } catch (e) { console.log(e.name, depth > 1000) }"
            )
            #expect(caught.stdoutText == "RangeError true\n")
        }
    }

    @Test(arguments: [
        "JSON.parse('['.repeat(100000) + ']'.repeat(100000))",
        "let a = []; for (let i = 0; i < 200000; i++) a = [a]; a.flat(Infinity)",
    ])
    func deepNativeRecursionIsARangeErrorNotATrap(source: String) async {
        // These built-ins recurse in C below QuickJS's own stack check.
        let result = await runJS(source, limits: ExecutionLimits(timeout: .seconds(120)))
        #expect(result.status == .exited)
        #expect(result.exitCode == 1)
        #expect(result.stderrText.hasPrefix("RangeError: Maximum call stack size exceeded"))
    }

    @Test(arguments: backends) func parseAndFlatStillWork(backend: SandboxBackendKind) async throws {
        try await onBackend(backend) {
            let result = await runJS(
                #"console.log(JSON.parse('{"a":[1,{"b":"[[{"}]}').a[1].b, JSON.parse('[1]', (k, v) => v), [1, [2, [3, [4]]]].flat(Infinity), [[1], [2, [3]]].flat())"#
            )
            #expect(result.stdoutText == "[[{ [ 1 ] [ 1, 2, 3, 4 ] [ 1, 2, [ 3 ] ]\n")
        }
    }

    @Test(arguments: backends) func consoleFloodHitsTheOutputCap(backend: SandboxBackendKind) async throws {
        try await onBackend(backend) {
            let result = await runJS(
                "for (;;) console.log('flood flood flood flood')",
                limits: ExecutionLimits(timeout: generousTimeout, stdoutBytes: 100_000))
            #expect(result.status == .outputLimit)
            #expect(result.stdout.count == 100_000)
        }
    }

    @Test(arguments: backends) func hugeSourceIsRejectedWithTheLimit(backend: SandboxBackendKind) async throws {
        try await onBackend(backend) {
            let huge = String(repeating: "// padding\n", count: 200_000)
            let result = await runJS(huge + "console.log(1)")
            #expect(result.status == .invalidInput)
            #expect(result.message?.contains("exceeds the 1048576-byte limit") == true, "\(result.message ?? "")")
        }
    }

    @Test(arguments: backends) func invalidUTF8IsRejectedWithItsOffset(backend: SandboxBackendKind) throws {
        try onBackend(backend) {
            #expect {
                try ExecutionInput.javascript(utf8: Array("console.log('ok')".utf8) + [0xC3, 0x28])
            } throws: { error in
                (error as? SandboxError)?.message.contains("not valid UTF-8 (at byte 17)") == true
            }
        }
    }

    @Test(arguments: backends) func nulByteIsRejected(backend: SandboxBackendKind) async throws {
        try await onBackend(backend) {
            let result = await runJS("console.log('a')\u{0}console.log('b')")
            #expect(result.status == .invalidInput)
            #expect(result.message?.contains("NUL") == true)
        }
    }

    // Wasmtime only: a hundred allocation-heavy scripts take minutes on a debug build of the
    // WasmKit interpreter; concurrency on WasmKit is tested in ConcurrencyTests.
    @Test(arguments: [SandboxBackendKind.wasmtime]) func hundredConcurrentAllocationHeavyRunsAllSucceed(
        backend: SandboxBackendKind
    )
        async throws
    {
        try await onBackend(backend) {
            let script = """
                const objects = [];
                for (let i = 0; i < 20000; i++) objects.push({ i, s: "item" + i, a: [i, i * 2] });
                const total = objects.reduce((sum, o) => sum + o.a[1], 0);
                console.log(JSON.stringify({ total, last: objects[objects.length - 1].s }));
                """
            let results = await withTaskGroup(of: ExecutionResult.self) { group in
                for _ in 0..<100 { group.addTask { await runJS(script) } }
                return await group.reduce(into: []) { $0.append($1) }
            }
            #expect(results.count == 100)
            #expect(
                results.allSatisfy {
                    $0.status == .ok && $0.stdoutText == "{\"total\":399980000,\"last\":\"item19999\"}\n"
                }
            )
        }
    }
}

@Suite("JavaScript runner edge cases")
struct JavaScriptRunnerTests {
    @Test(arguments: backends) func hugeTimerDelayFiresAtOnceWithNodesWarning(backend: SandboxBackendKind) async throws
    {
        try await onBackend(backend) {
            // Node clamps a delay past 2^31 - 1 ms to 1 ms and warns; sleeping 1e300 ms would
            // have been an undefined conversion to time_t.
            let result = await runJS(#"setTimeout(() => console.log("x"), 1e300)"#)
            #expect(result.status == .ok, "\(result.stderrText)")
            #expect(result.stdoutText == "x\n")
            #expect(
                result.stderrText
                    == "TimeoutOverflowWarning: 1e+300 does not fit into a 32-bit signed integer.\nTimeout duration was set to 1.\n"
            )
            // A delay left unclamped would outlast the 120 s timeout (the status would say so); this
            // bound catches one clamped to seconds, and is generous for a loaded machine. Not on
            // WasmKit: a debug build of the interpreter takes that long on a busy machine.
            if backend == .wasmtime { #expect(result.duration < .seconds(30)) }
        }
    }

    @Test(arguments: backends) func nonNumericAndNegativeDelaysAreOneMillisecond(backend: SandboxBackendKind)
        async throws
    {
        try await onBackend(backend) {
            let result = await runJS(
                """
                for (const delay of [NaN, -5, undefined, "soon", 0, Infinity, -Infinity])
                  setTimeout(() => console.log(String(delay)), delay);
                setTimeout(() => console.log("after"), 20);
                """)
            #expect(result.status == .ok, "\(result.stderrText)")
            #expect(result.stdoutText == "NaN\n-5\nundefined\nsoon\n0\nInfinity\n-Infinity\nafter\n")
            // Only the overflow warns, as in Node.
            #expect(
                result.stderrText.components(separatedBy: "TimeoutOverflowWarning").count == 2, "\(result.stderrText)")
            // Infinity taken as a real delay would outlast the 120 s timeout (the status would say
            // so); this bound catches delays of seconds, and is generous for a loaded machine. Not
            // on WasmKit: a debug build of the interpreter takes that long on a busy machine.
            if backend == .wasmtime { #expect(result.duration < .seconds(30)) }
        }
    }

    @Test(arguments: backends) func intervalWithAHugeDelayRepeatsEveryMillisecond(backend: SandboxBackendKind)
        async throws
    {
        try await onBackend(backend) {
            let result = await runJS(
                "let n = 0; const id = setInterval(() => { if (++n === 3) { clearInterval(id); console.log(n) } }, 2 ** 40)"
            )
            #expect(result.status == .ok, "\(result.stderrText)")
            #expect(result.stdoutText == "3\n")
        }
    }

    @Test(arguments: backends) func handlingOneRejectionLeavesAnotherUnhandled(backend: SandboxBackendKind) async throws
    {
        try await onBackend(backend) {
            let result = await runJS(
                """
                const first = Promise.reject(new Error("first"));
                const second = Promise.reject(new Error("second"));
                second.catch(() => console.log("second handled"));
                """)
            #expect(result.status == .exited)
            #expect(result.exitCode == 1)
            #expect(result.stdoutText == "second handled\n")
            #expect(result.stderrText.hasPrefix("Uncaught (in promise) Error: first\n"), "\(result.stderrText)")
            #expect(!result.stderrText.contains("second"))
        }
    }

    @Test(arguments: backends) func rejectionsHandledLaterAllCountAsHandled(backend: SandboxBackendKind) async throws {
        try await onBackend(backend) {
            let result = await runJS(
                """
                const rejected = Array.from({ length: 100 }, (_, i) => Promise.reject(new Error("r" + i)));
                setTimeout(() => rejected.forEach(p => p.catch(() => {})), 5);
                """)
            #expect(result.status == .ok, "\(result.stderrText)")
            #expect(result.stderrText.isEmpty)
        }
    }

    @Test(arguments: backends) func theOneRejectionLeftUnhandledAmongManyIsReported(backend: SandboxBackendKind)
        async throws
    {
        try await onBackend(backend) {
            let result = await runJS(
                """
                const rejected = Array.from({ length: 100 }, (_, i) => Promise.reject(new Error("r" + i)));
                setTimeout(() => rejected.forEach((p, i) => { if (i !== 37) p.catch(() => {}) }), 5);
                """)
            #expect(result.exitCode == 1)
            #expect(result.stderrText.hasPrefix("Uncaught (in promise) Error: r37\n"), "\(result.stderrText)")
        }
    }

    @Test(arguments: backends) func rejectionsPastTheTrackingCapStillFailTheRun(backend: SandboxBackendKind)
        async throws
    {
        try await onBackend(backend) {
            let result = await runJS("for (let i = 0; i < 1000; i++) Promise.reject(new Error('r' + i))")
            #expect(result.exitCode == 1)
            #expect(result.stderrText.hasPrefix("Uncaught (in promise) Error: r0\n"), "\(result.stderrText)")
        }
    }

    @Test(arguments: backends) func aSourceTheEngineHasNoMemoryForIsAMemoryLimit(backend: SandboxBackendKind)
        async throws
    {
        try await onBackend(backend) {
            // The engine copies the source into its own memory: with no room to grow, that fails
            // before anything runs, and says why.
            let small = await runJS("1")
            let limit = small.memoryPeakBytes
            let source = "// " + String(repeating: "x", count: 1_000_000) + "\nconsole.log('ran')"
            let result = await runJS(source, limits: ExecutionLimits(timeout: generousTimeout, memoryBytes: limit))
            #expect(result.status == .memoryLimit, "\(result.status) \(result.message ?? "")")
            #expect(
                result.message?.hasSuffix(
                    "failed: the engine could not allocate \(source.utf8.count) bytes for the code")
                    == true,
                "\(result.message ?? "")")
            #expect(result.stdout.isEmpty)
            let roomy = await runJS(source)
            #expect(roomy.stdoutText == "ran\n", "\(roomy.stderrText)")
        }
    }
}
