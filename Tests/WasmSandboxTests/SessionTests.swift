import Foundation
import MetricsTestKit
import Synchronization
import Testing
import WasmSandbox

/// A sandbox of a test's own, with its session settings changed by `adjust`.
func sessionSandbox(_ adjust: (inout SessionSettings) -> Void = { _ in }) throws -> Sandbox {
    var configuration = testConfiguration()
    adjust(&configuration.sessions)
    return try Sandbox(configuration: configuration)
}

@Suite("Sessions keep state across calls")
struct SessionStateTests {
    @Test func javascriptKeepsVariablesFunctionsAndObjects() async throws {
        let session = try await sharedSandbox.openSession(language: .javascript)
        defer { Task { await session.close() } }
        let first = await session.run("let count = 1; const double = (n) => n * 2; var notes = { tag: 'x' }")
        #expect(first.status == .ok, "\(first.stderrText)")
        #expect(first.value == nil)
        #expect(first.sessionEnded == false)
        let second = await session.run("count += 1; notes.more = [1, 2]; double(count)")
        #expect(second.status == .ok, "\(second.stderrText)")
        #expect(second.value == "4")
        let third = await session.run("console.log('seen', count); notes")
        #expect(third.stdoutText == "seen 2\n")
        #expect(third.value == "{ tag: 'x', more: [ 1, 2 ] }")
        let async = await session.run("await new Promise((resolve) => setTimeout(() => resolve(count * 10), 1))")
        #expect(async.value == "20", "\(async.stderrText)")
    }

    @Test func pythonKeepsVariablesImportsADataFrameAndFiles() async throws {
        let session = try await sharedSandbox.openSession(language: .python)
        defer { Task { await session.close() } }
        let first = await session.run(
            """
            import pandas as pd
            from statistics import mean
            def scale(values, by): return [v * by for v in values]
            df = pd.DataFrame({'city': ['Oslo', 'Lima', 'Oslo'], 'sales': [3, 5, 4]})
            with open('/workspace/note.txt', 'w') as note: note.write('10')
            """)
        #expect(first.status == .ok, "\(first.stderrText)")
        #expect(first.value == nil)
        #expect(first.files?.map(\.path) == ["note.txt"])
        let second = await session.run("mean(scale(df.sales.tolist(), 2)) + int(open('/workspace/note.txt').read())")
        #expect(second.status == .ok, "\(second.stderrText)")
        #expect(second.value == "18")
        let table = await session.run("df.groupby('city').sales.sum()")
        #expect(table.value?.contains("Lima    5") == true, "\(table.value ?? "nil")")
        #expect(table.value?.contains("Oslo    7") == true)
        let quiet = await session.run("print(1 + 1)\nNone")
        #expect(quiet.stdoutText == "2\n")
        #expect(quiet.value == nil)
        // Only a cell's last expression is shown, and `_` holds it, as in a notebook.
        let shown = await session.run("20 + 1\n21 * 2")
        #expect(shown.value == "42")
        let underscore = await session.run("_ + 1")
        #expect(underscore.value == "43")
    }

    @Test func whatShowingAJavaScriptValueLeavesBehindSettlesInTheSameCall() async throws {
        let session = try await sharedSandbox.openSession(language: .javascript)
        defer { Task { await session.close() } }
        // A Proxy's trap runs while the value is shown: its timer, job and rejection belong to
        // this call, not to the next one.
        let shown = await session.run(
            """
            new Proxy({}, { ownKeys() {
              setTimeout(() => console.log('timer'), 1);
              Promise.resolve().then(() => console.log('job'));
              Promise.reject(new Error('from the trap'));
              return [];
            } })
            """)
        #expect(shown.value == "{}")
        #expect(shown.stdoutText == "job\ntimer\n")
        #expect(shown.status == .exited)
        #expect(shown.stderrText.contains("Uncaught (in promise) Error: from the trap"), "\(shown.stderrText)")
        #expect(shown.sessionEnded == false)
        let next = await session.run("1 + 1")
        #expect(next.status == .ok, "\(next.stderrText)")
        #expect(next.stdoutText.isEmpty)
        #expect(next.value == "2")
    }

    @Test func aValueFrameSentByTheCodeIsReadOnlyUpToTheCap() async throws {
        var limits = ExecutionLimits(timeout: generousTimeout)
        limits.stdoutBytes = 64
        let session = try await sharedSandbox.openSession(language: .python, limits: limits)
        defer { Task { await session.close() } }
        let spoofed = await session.run(
            """
            import _host
            try: _host.call(b"\\0wasm-sandbox:value\\0" + b"x" * 10_000_000)
            except ConnectionRefusedError: pass
            """)
        #expect(spoofed.status == .ok, "\(spoofed.stderrText)")
        #expect(spoofed.value == String(repeating: "x", count: 64))
        #expect(spoofed.valueTruncated)
    }

    @Test func aCallReadsItsOwnStdin() async throws {
        let session = try await sharedSandbox.openSession(language: .python)
        defer { Task { await session.close() } }
        // What a call leaves unread, even in the interpreter's buffer, is not the next one's.
        let first = await session.run("name = input()", stdin: Array("Ada\nrest".utf8))
        #expect(first.status == .ok, "\(first.stderrText)")
        let second = await session.run("import sys; (name, sys.stdin.read())", stdin: Array("fresh".utf8))
        #expect(second.value == "('Ada', 'fresh')", "\(second.stderrText)")
        let none = await session.run("sys.stdin.read()")
        #expect(none.value == "''")
    }

    @Test func anExceptionIsReportedAndTheSessionGoesOn() async throws {
        for (language, failing, check) in [
            (Language.python, "x = 5\nraise ValueError('bad')", "x"),
            (Language.javascript, "var x = 5; throw new Error('bad')", "x"),
        ] {
            let session = try await sharedSandbox.openSession(language: language)
            let failed = await session.run(failing)
            #expect(failed.status == .exited, "\(language)")
            #expect(failed.exitCode == 1)
            #expect(failed.stderrText.contains("bad"))
            #expect(failed.sessionEnded == false)
            let after = await session.run(check)
            #expect(after.value == "5", "\(language): \(after.stderrText)")
            await session.close()
        }
    }

    @Test func sessionsAreIsolatedFromEachOtherAndFromStatelessRuns() async throws {
        let one = try await sharedSandbox.openSession(language: .python)
        let two = try await sharedSandbox.openSession(language: .python)
        defer {
            Task {
                await one.close()
                await two.close()
            }
        }
        _ = await one.run("secret = 'one'")
        let other = await two.run("secret")
        #expect(other.status == .exited)
        #expect(other.stderrText.contains("NameError"), "\(other.stderrText)")
        let stateless = await runPython("print(globals().get('secret'))")
        #expect(stateless.stdoutText == "None\n")
        #expect(stateless.value == nil && stateless.sessionEnded == nil)
        #expect(one.workspace.directory != two.workspace.directory)
    }
}

@Suite("Sessions end, expire and are evicted as documented")
struct SessionLifetimeTests {
    @Test func aTimeoutEndsTheSessionAndSaysSo() async throws {
        for (language, spin) in [(Language.python, "while True: pass"), (Language.javascript, "for (;;) {}")] {
            let session = try await sharedSandbox.openSession(language: language)
            _ = await session.run("kept = 1")
            let stopped = await session.run(spin, timeout: .milliseconds(300))
            #expect(stopped.status == .timedOut, "\(language)")
            #expect(stopped.sessionEnded == true)
            #expect(stopped.message?.contains("the session has ended") == true, "\(stopped.message ?? "")")
            #expect(stopped.message?.contains("start a new session") == true)
            #expect(!session.isOpen)
            let next = await session.run("kept")
            #expect(next.status == .invalidInput)
            #expect(next.message?.contains("session \(session.id) has ended") == true, "\(next.message ?? "")")
            #expect(next.message?.contains("start a new session") == true)
        }
    }

    @Test func aClosedSessionRefusesCalls() async throws {
        let session = try await sharedSandbox.openSession(language: .javascript)
        await session.close()
        #expect(!session.isOpen)
        #expect(sharedSandbox.session(id: session.id) == nil)
        let result = await session.run("1")
        #expect(result.status == .invalidInput)
        #expect(result.message == "session \(session.id) was closed; start a new session")
    }

    @Test func idleSessionsExpire() async throws {
        let sandbox = try sessionSandbox { $0.idleTimeout = .milliseconds(200) }
        let session = try await sandbox.openSession(language: .javascript)
        #expect(try await eventually { !session.isOpen })
        let result = await session.run("1")
        #expect(result.message?.contains("expired after being idle") == true, "\(result.message ?? "")")
        #expect(sandbox.sessions().isEmpty)
    }

    @Test func theCapEvictsTheLeastRecentlyUsedIdleSession() async throws {
        let sandbox = try sessionSandbox { $0.maxSessions = 2 }
        let older = try await sandbox.openSession(language: .javascript)
        let newer = try await sandbox.openSession(language: .javascript)
        // Used last, `older` is now the most recently used: `newer` goes first.
        _ = await older.run("1")
        let third = try await sandbox.openSession(language: .javascript)
        #expect(older.isOpen)
        #expect(!newer.isOpen)
        #expect(third.isOpen)
        let refused = await newer.run("1")
        #expect(refused.message?.contains("to make room for newer sessions") == true, "\(refused.message ?? "")")
        #expect(Set(sandbox.sessions().map(\.id)) == [older.id, third.id])
    }

    @Test func theMemoryCapEvictsToo() async throws {
        // Two Python sessions (81 MiB each) do not fit under 120 MiB together.
        let sandbox = try sessionSandbox { $0.maxTotalMemoryBytes = 120 << 20 }
        let first = try await sandbox.openSession(language: .python)
        let second = try await sandbox.openSession(language: .python)
        #expect(!first.isOpen)
        #expect(second.isOpen)
    }

    /// At the caps an owner pushes out its own sessions, or those of an owner holding more,
    /// never those of one holding less.
    @Test func theCapsNeverCloseTheSessionsOfAnOwnerHoldingLess() async throws {
        let sandbox = try sessionSandbox { $0.maxSessions = 3 }
        let alices = try await sandbox.openSession(language: .javascript, owner: "alice")
        var bobs: [SandboxSession] = []
        for _ in 0..<4 { bobs.append(try await sandbox.openSession(language: .javascript, owner: "bob")) }
        // Alice's is the least recently used, and stays: bob's oldest went.
        #expect(alices.isOpen)
        #expect(bobs.map(\.isOpen) == [false, false, true, true])
        // Alice may push out bob's (he holds more), the oldest first.
        let second = try await sandbox.openSession(language: .javascript, owner: "alice")
        #expect(alices.isOpen && second.isOpen && !bobs[2].isOpen && bobs[3].isOpen)
        // Now alice holds more: bob's next one takes hers, not his own last.
        _ = try await sandbox.openSession(language: .javascript, owner: "bob")
        #expect(bobs[3].isOpen && !alices.isOpen && second.isOpen)
        // The memory cap follows the same rule: Python sessions (81 MiB each) under 150 MiB.
        let memory = try sessionSandbox { $0.maxTotalMemoryBytes = 150 << 20 }
        let small = try await memory.openSession(language: .javascript, owner: "alice")
        let big = try await memory.openSession(language: .python, owner: "carol")
        let bigger = try await memory.openSession(language: .python, owner: "carol")
        #expect(small.isOpen && !big.isOpen && bigger.isOpen)
    }

    @Test func aRunningSessionIsNeverEvicted() async throws {
        let sandbox = try sessionSandbox { $0.maxSessions = 1 }
        let busy = try await sandbox.openSession(language: .javascript)
        let call = Task { await busy.run("for (;;) {}") }
        #expect(try await eventually { sandbox.sessions().first?.running == true })
        await #expect(throws: SandboxError.self) { try await sandbox.openSession(language: .javascript) }
        #expect(busy.isOpen)
        await busy.close()
        let stopped = await call.value
        #expect(stopped.status == .cancelled)
        #expect(stopped.sessionEnded == true)
        let fresh = try await sandbox.openSession(language: .javascript)
        #expect(await fresh.run("'fine'").value == "'fine'")
    }

    @Test func fiftySessionsWithInterleavedCalls() async throws {
        let sessions = try await withThrowingTaskGroup(of: (Int, SandboxSession).self) { group in
            for index in 0..<50 {
                group.addTask {
                    let session = try await sharedSandbox.openSession(language: .javascript)
                    _ = await session.run("var n = \(index) * 1000")
                    return (index, session)
                }
            }
            return try await group.reduce(into: [Int: SandboxSession]()) { $0[$1.0] = $1.1 }
        }
        let values = await withTaskGroup(of: (Int, String?).self) { group in
            for round in 0..<4 {
                for (index, session) in sessions {
                    group.addTask { (index, await session.run("n += 1; [\(round), n]").value) }
                }
            }
            return await group.reduce(into: [Int: [String?]]()) { $0[$1.0, default: []].append($1.1) }
        }
        for (index, session) in sessions {
            // Calls on one session ran in order, whatever the interleaving across sessions.
            let final = await session.run("n")
            #expect(final.value == "\(index * 1000 + 4)")
            #expect(values[index]?.count == 4)
            await session.close()
        }
    }

    @Test func memoryReturnsToItsBaselineAfterAThousandSessions() async throws {
        let sandbox = try sessionSandbox()
        func cycle(_ count: Int, python: Int) async throws {
            for index in 0..<count {
                let session = try await sandbox.openSession(language: .javascript)
                _ = await session.run("globalThis.big = new Array(10000).fill('x'); big.length")
                await session.close()
                // Python sessions (an 81 MiB memory each) among them.
                if index < python {
                    let python = try await sandbox.openSession(language: .python)
                    _ = await python.run("import numpy as np; big = np.ones(1 << 20); big.sum()")
                    await python.close()
                }
            }
        }
        try await cycle(50, python: 20)
        let baseline = residentBytes()
        try await cycle(1000, python: 100)
        let after = residentBytes()
        #expect(sandbox.sessions().isEmpty)
        // Each session touches a megabyte or more (a Python one, an 8 MB array too): leaking
        // them would show as a gigabyte or more. The bound leaves room for the tests that run
        // beside this one in the same process.
        #expect(after - baseline < 256 << 20, "resident memory grew from \(baseline >> 20) MiB to \(after >> 20) MiB")
    }

    @Test func sessionsOpenedAtOnceStayWithinTheCap() async throws {
        let sandbox = try sessionSandbox { $0.maxSessions = 3 }
        let opened = await withTaskGroup(of: SandboxSession?.self) { group in
            for _ in 0..<12 { group.addTask { try? await sandbox.openSession(language: .javascript) } }
            return await group.reduce(into: [SandboxSession]()) { if let session = $1 { $0.append(session) } }
        }
        // Each opening reserves its room before it starts: never more than three at once.
        #expect(!opened.isEmpty)
        #expect(opened.filter(\.isOpen).count <= 3)
        #expect(sandbox.sessions().count <= 3)
    }

    @Test func callsWaitingForABusySessionCountAgainstTheQueue() async throws {
        var configuration = testConfiguration()
        configuration.maxQueuedExecutions = 2
        let sandbox = try Sandbox(configuration: configuration)
        let session = try await sandbox.openSession(language: .javascript)
        let spinning = Task { await session.run("for (;;) {}") }
        #expect(try await eventually { sandbox.sessions().first?.running == true })
        let finished = Finished()
        let waiting = (0..<3).map { _ in
            Task {
                let result = await session.run("1")
                finished.statuses.withLock { $0.append(result.status) }
            }
        }
        // Two wait for their turn; the third is refused at once, while the first call runs.
        #expect(try await eventually { finished.statuses.withLock { $0 } == [.busy] })
        await session.close()
        #expect(await spinning.value.status == .cancelled)
        for task in waiting { await task.value }
        #expect(
            finished.statuses.withLock { $0.sorted { $0.rawValue < $1.rawValue } } == [
                .busy, .invalidInput, .invalidInput,
            ])
    }

    @Test func exitingThePythonProcessEndsTheSession() async throws {
        let session = try await sharedSandbox.openSession(language: .python)
        let exited = await session.run("import os; os._exit(0)")
        #expect(exited.status == .ok)
        #expect(exited.sessionEnded == true)
        #expect(exited.message?.hasPrefix("the code ended the interpreter's process (exit status 0)") == true)
        let next = await session.run("1")
        #expect(next.status == .invalidInput)
        #expect(next.message?.contains("ended the interpreter's process") == true, "\(next.message ?? "")")
    }

    @Test func releasingASessionClosesIt() async throws {
        let sandbox = try sessionSandbox()
        var session: SandboxSession? = try await sandbox.openSession(language: .javascript)
        let directory = session!.workspace.directory
        #expect(sandbox.sessions().count == 1)
        session = nil
        #expect(sandbox.sessions().isEmpty)
        #expect(try await eventually { !FileManager.default.fileExists(atPath: directory.path) })
    }
}

/// Statuses of calls, in the order they finished.
final class Finished: Sendable {
    let statuses = Mutex<[ExecutionResult.Status]>([])
}

/// This process's resident memory in bytes.
func residentBytes() -> Int {
    guard let text = try? String(contentsOfFile: "/proc/self/statm", encoding: .utf8),
        let pages = text.split(separator: " ").dropFirst().first.flatMap({ Int($0) })
    else { return 0 }
    return pages * Int(sysconf(Int32(_SC_PAGESIZE)))
}

@Suite("Session metrics")
struct SessionMetricsTests {
    @Test func openSessionsCallsAndClosesAreCounted() async throws {
        let (sandbox, metrics) = try meteredSandbox { $0.sessions.maxSessions = 1 }
        let open = try metrics.expectMeter("wasm_sandbox_sessions_open")
        let first = try await sandbox.openSession(language: .javascript)
        #expect(open.lastValue == 1)
        _ = await first.run("1")
        _ = await first.run("throw 1")
        // At the cap, the next session evicts the first.
        let second = try await sandbox.openSession(language: .javascript)
        _ = await second.run("for (;;) {}", timeout: .milliseconds(50))
        #expect(open.lastValue == 0)
        func calls(_ status: String) throws -> Int64 {
            try metrics.expectCounter("wasm_sandbox_session_calls_total", [("status", status)]).totalValue
        }
        func closes(_ reason: String) throws -> Int64 {
            try metrics.expectCounter("wasm_sandbox_sessions_closed_total", [("reason", reason)]).totalValue
        }
        #expect(try calls("ok") == 1)
        #expect(try calls("exited") == 1)
        #expect(try calls("timed_out") == 1)
        #expect(try closes("evicted") == 1)
        #expect(try closes("ended") == 1)
        let third = try await sandbox.openSession(language: .javascript)
        await third.close()
        #expect(try closes("closed") == 1)
        #expect(open.lastValue == 0)
    }
}

@Suite("Which idle session a shared cap closes")
struct FairEvictionTests {
    let now = ContinuousClock.now

    func idle(_ items: [(String, String, Int)]) -> [(item: String, owner: String, lastUsed: ContinuousClock.Instant)] {
        items.map { (item: $0.0, owner: $0.1, lastUsed: now + .seconds($0.2)) }
    }

    @Test func theBiggestHoldersOldestGoesFirstThenTheOpenersOwn() {
        let sessions = idle([("b1", "bob", 2), ("b0", "bob", 1), ("c0", "carol", 0), ("a0", "alice", 0)])
        let holdings = ["alice": 1, "bob": 3, "carol": 2]
        // Bob holds the most: his least recently used, not carol's older one.
        #expect(FairEviction.victim(for: "alice", holdings: holdings, idle: sessions) == "b0")
        // The biggest holder opening takes its own.
        #expect(FairEviction.victim(for: "bob", holdings: holdings, idle: sessions) == "b0")
        // One holding nothing yet may take the biggest holder's.
        #expect(FairEviction.victim(for: "dave", holdings: holdings, idle: sessions) == "b0")
        // Equal holdings: each closes its own.
        #expect(FairEviction.victim(for: "alice", holdings: ["alice": 2, "bob": 2], idle: sessions) == "a0")
    }

    @Test func aBusyBiggestHolderProtectsTheSmallerOnes() {
        // Bob's are all busy (not idle): alice gets her own, dave nothing, carol stays.
        let sessions = idle([("c0", "carol", 0), ("a0", "alice", 0)])
        let holdings = ["alice": 1, "bob": 5, "carol": 2]
        #expect(FairEviction.victim(for: "alice", holdings: holdings, idle: sessions) == "a0")
        #expect(FairEviction.victim(for: "dave", holdings: holdings, idle: sessions) == nil)
    }
}
