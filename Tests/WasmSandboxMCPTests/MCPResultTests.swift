import Foundation
import MCP
import Synchronization
import Testing

@testable import WasmSandbox
@testable import WasmSandboxMCP

/// Results as models and agent frameworks read them: a status-first text, failures of the
/// program as normal results, refusals as `isError` results, only the files a run made, its
/// images as image content and every file as a resource the connection can read.
@Suite("execute_code results for agents")
struct MCPResultTests {
    func structured(_ result: CallTool.Result) -> [String: Value] { result.structuredContent?.objectValue ?? [:] }

    func files(_ result: CallTool.Result) -> [String: [String: Value]] {
        var byPath: [String: [String: Value]] = [:]
        for entry in structured(result)["files"]?.arrayValue ?? [] {
            if let object = entry.objectValue, let path = object["path"]?.stringValue { byPath[path] = object }
        }
        return byPath
    }

    func links(_ result: CallTool.Result) -> [String: String] {
        var byName: [String: String] = [:]
        for case .resourceLink(let uri, let name, _, _, _, _) in result.content { byName[name] = uri }
        return byName
    }

    @Test(
        arguments: [
            ("python", "raise ValueError('boom')", "status: exited with exit code 1", "ValueError: boom"),
            ("javascript", "throw new Error('bang')", "status: exited with exit code 1", "bang"),
            ("javascript", "for (;;) {}", "status: timed_out", "timed_out"),
            ("wat", #"(module (func (export "_start") unreachable))"#, "status: trapped (unreachable)", "unreachable"),
            (
                "wat", #"(module (func $f (call $f)) (func (export "_start") (call $f)))"#,
                "status: trapped (stack_overflow)", "stack"
            ),
        ])
    func aProgramThatFailsIsANormalResultThatSaysSo(language: String, code: String, status: String, detail: String)
        async throws
    {
        let client = try await connectedClient()
        // Only the endless loop needs a short timeout; the others may take long on a busy machine.
        var arguments: [String: Value] = ["language": .string(language), "code": .string(code)]
        if status == "status: timed_out" { arguments["timeout_ms"] = 500 }
        let result = try await execute(client, arguments)
        // The tool did its job: pydantic-ai would count `isError` as its failure and retry.
        #expect(result.isError == false)
        #expect(text(result).hasPrefix(status), "\(text(result))")
        #expect(text(result).contains(detail))
    }

    @Test func argumentErrorsAreResultsAModelCanReadAndUnknownToolsStayProtocolErrors() async throws {
        let client = try await connectedClient()
        let refused = try await execute(client, ["language": "cobol", "code": "1"])
        #expect(refused.isError == true)
        #expect(text(refused).hasPrefix("status: invalid_input: invalid arguments: unknown language 'cobol'"))
        #expect(structured(refused)["status"] == "invalid_input")
        await #expect(throws: MCPError.self) {
            let context: RequestContext<CallTool.Result> = try await client.callTool(name: "no_such_tool")
            _ = try await context.value
        }
    }

    @Test func optionalArgumentsTakeNullAsNotGiven() async throws {
        let client = try await connectedClient()
        var arguments: [String: Value] = ["language": "javascript", "code": "console.log('with nulls')"]
        for name in ["stdin", "args", "env", "files", "timeout_ms", "memory_mb", "fuel", "session_id"] {
            arguments[name] = .null
        }
        let result = try await execute(client, arguments)
        #expect(structured(result)["status"] == "ok", "\(text(result))")
        #expect(structured(result)["stdout"] == "with nulls\n")
    }

    @Test func environmentIsAListOfPairs() async throws {
        let client = try await connectedClient()
        let result = try await execute(
            client,
            [
                "language": "python", "code": "import os; print(os.environ['GREETING'], os.environ['EMPTY'] == '')",
                "env": [["name": "GREETING", "value": "hello"], ["name": "EMPTY", "value": ""]],
            ])
        #expect(structured(result)["stdout"] == "hello True\n", "\(text(result))")
    }

    /// A client of a server of its own, configured by `configure`.
    func client(_ configure: (inout MCPServerConfiguration) -> Void) async throws -> Client {
        var configuration = MCPServerConfiguration()
        configure(&configuration)
        return try await connectedClient(to: try SandboxMCPServer(configuration: configuration))
    }

    @Test func longOutputIsCutForTheModelAndKeptWholeInTheStructuredResult() async throws {
        let client = try await client { $0.textBudgetChars = 1_000 }
        let result = try await execute(
            client,
            [
                "language": "javascript",
                "code": "console.log('FIRST' + 'a'.repeat(50000) + 'LAST'); console.error('E'.repeat(100))",
            ])
        let body = text(result)
        #expect(body.count < 1_500, "\(body.count) characters")
        #expect(body.contains("FIRST") && body.contains("LAST\n"))
        #expect(body.contains("characters cut here"))
        // The short section keeps everything; the long one gets the rest of the budget.
        #expect(body.contains(String(repeating: "E", count: 100)))
        #expect(structured(result)["stdout"]?.stringValue?.count == 50_010)
    }

    @Test func theBudgetCountsScalarsNotGraphemeClusters() {
        // One letter and 300,000 combining marks: one grapheme cluster, 300,001 scalars.
        let marks = "a" + String(repeating: "\u{301}", count: 300_000)
        let cut = TextBudget.fit([marks, "short"], budget: 1_000)
        #expect(cut[0].unicodeScalars.count < 1_200)
        #expect(cut[0].contains("characters cut here"))
        #expect(cut[1] == "short")
    }

    @Test func onlyFilesTheRunCreatedOrChangedComeBack() async throws {
        let client = try await connectedClient()
        let result = try await execute(
            client,
            [
                "language": "python",
                "code": """
                open('/workspace/new.txt', 'w').write('made here')
                open('/workspace/edited.txt', 'w').write('edited')
                open('/workspace/same-size.txt', 'w').write('BBBB')
                """,
                "files": [
                    ["name": "kept.txt", "text": "untouched"], ["name": "edited.txt", "text": "original"],
                    ["name": "same-size.txt", "text": "AAAA"],
                ],
            ])
        #expect(result.isError == false, "\(text(result))")
        #expect(Set(files(result).keys) == ["new.txt", "edited.txt", "same-size.txt"])
        #expect(files(result)["new.txt"]?["text"] == "made here")
        #expect(Set(links(result).keys) == ["new.txt", "edited.txt", "same-size.txt"])
        #expect(text(result).contains("- new.txt (9 bytes, text/plain) wasm-sandbox://runs/"))
        #expect(!text(result).contains("kept.txt"))
    }

    @Test func aSessionReportsWhatEachCallChanged() async throws {
        let client = try await connectedClient()
        func call(_ code: String) async throws -> CallTool.Result {
            try await execute(client, ["language": "python", "session_id": "files", "code": .string(code)])
        }
        let first = try await call("open('/workspace/a.txt', 'w').write('one')")
        #expect(Set(files(first).keys) == ["a.txt"], "\(text(first))")
        let second = try await call("open('/workspace/b.txt', 'w').write('two')")
        #expect(Set(files(second).keys) == ["b.txt"], "\(text(second))")
        let third = try await call("x = 1")
        #expect(files(third).isEmpty, "\(text(third))")
        let fourth = try await call("open('/workspace/a.txt', 'w').write('longer now')")
        #expect(Set(files(fourth).keys) == ["a.txt"], "\(text(fourth))")
        #expect(links(fourth)["a.txt"] == "wasm-sandbox://sessions/files/a.txt")
    }

    @Test func linkedFilesAreReadableOnTheirConnectionOnly() async throws {
        let client = try await connectedClient()
        let result = try await execute(
            client,
            [
                "language": "python",
                "code":
                    "open('/workspace/data.csv', 'w').write('a,b\\n1,2\\n')\nopen('/workspace/raw.bin', 'wb').write(bytes(range(256)))",
            ])
        let csv = try #require(links(result)["data.csv"], "\(result.content)")
        let contents = try await client.readResource(uri: csv)
        #expect(contents.first?.text == "a,b\n1,2\n")
        #expect(contents.first?.mimeType == "text/csv")
        let raw = try await client.readResource(uri: try #require(links(result)["raw.bin"]))
        #expect(raw.first?.blob.flatMap { Data(base64Encoded: $0) } == Data((0...255).map(UInt8.init)))
        // Another connection cannot read it, even with the exact URI.
        let other = try await connectedClient()
        await #expect(throws: MCPError.self) { _ = try await other.readResource(uri: csv) }
        // Nor can anyone read a path the run did not make, or outside the workspace.
        let base = csv.replacingOccurrences(of: "data.csv", with: "")
        for path in ["missing.txt", "../../etc/passwd", "%2e%2e/%2e%2e/etc/passwd"] {
            await #expect(throws: MCPError.self) { _ = try await client.readResource(uri: base + path) }
        }
        await #expect(throws: MCPError.self) { _ = try await client.readResource(uri: "file:///etc/passwd") }
    }

    @Test func aKeptRunStaysForItsGraceThenGoes() async throws {
        let runs = RetainedRuns(grace: .seconds(3))
        let workspace = try Workspace(files: ["f": [1]])
        await runs.retain(workspace, id: "r", owner: 1)
        // Asked at once (well within the grace), it is there; then it goes, on the timer.
        #expect(await runs.workspace("r", owner: 1) != nil)
        #expect(try await eventually { await runs.workspace("r", owner: 1) == nil })
        #expect(try await eventually { !FileManager.default.fileExists(atPath: workspace.directory.path) })
    }

    @Test func aRunsFilesGoAfterTheGracePeriod() async throws {
        let client = try await client { $0.resourceGraceSeconds = 1 }
        let result = try await execute(
            client, ["language": "python", "code": "open('/workspace/brief.txt', 'w').write('soon gone')"])
        let uri = try #require(links(result)["brief.txt"])
        // That a kept run is readable within its grace is checked above with a longer one.
        #expect(
            try await eventually {
                do {
                    _ = try await client.readResource(uri: uri)
                    return false
                } catch { return true }
            })
    }

    @Test func atMostCapacityRunsAreKeptOldestGoingFirst() async throws {
        let runs = RetainedRuns(capacity: 2, grace: .seconds(3600))
        let kept = try (0..<3).map { index in try Workspace(files: ["f\(index)": [1]]) }
        for (index, workspace) in kept.enumerated() { await runs.retain(workspace, id: "r\(index)", owner: 7) }
        #expect(await runs.workspace("r0", owner: 7) == nil)
        #expect(await runs.workspace("r1", owner: 7) != nil)
        #expect(await runs.workspace("r2", owner: 7) != nil)
        #expect(await runs.workspace("r2", owner: 8) == nil)
        // The dropped one's directory is removed (off the caller's thread).
        #expect(try await eventually { !FileManager.default.fileExists(atPath: kept[0].directory.path) })
        await runs.release(7)
        #expect(await runs.count == 0)
    }

    @Test func aFileTooLargeForOneMessageIsRefusedByName() async throws {
        // 8,192-byte messages: files up to 8192 / 4 * 3 - 1024 = 5,120 bytes fit in base64.
        let client = try await client { $0.maxMessageBytes = 8_192 }
        let result = try await execute(
            client,
            [
                "language": "python",
                "code":
                    "open('/workspace/small.txt', 'w').write('s' * 5120)\nopen('/workspace/big.txt', 'w').write('b' * 5121)",
            ])
        #expect(
            try await client.readResource(uri: try #require(links(result)["small.txt"])).first?.text?.count == 5_120)
        do {
            _ = try await client.readResource(uri: try #require(links(result)["big.txt"]))
            Issue.record("a file past the message size was read")
        } catch {
            #expect("\(error)".contains("larger than 5120 bytes"), "\(error)")
        }
    }

    @Test func manyFilesAreListedAndLinkedUpToACapAndAllStructured() async throws {
        let client = try await client { _ in }
        let result = try await execute(
            client,
            ["language": "python", "code": "for i in range(60):\n    open(f'/workspace/f{i:02}', 'w').write('x')"])
        #expect(files(result).count == 60)
        #expect(links(result).count == RunFiles.maxListed)
        #expect(text(result).contains("- … and 10 more (all in the structured result)"))
    }

    @Test func aSessionsFilesAreReadableWhileItLives() async throws {
        let client = try await connectedClient()
        let result = try await execute(
            client,
            ["language": "javascript", "session_id": "res", "code": "1", "files": [["name": "in.txt", "text": "x"]]])
        #expect(result.isError == false)
        let uri = "wasm-sandbox://sessions/res/in.txt"
        #expect(try await client.readResource(uri: uri).first?.text == "x")
        _ = try await client.callTool(name: "close_session", arguments: ["session_id": "res"])
        await #expect(throws: MCPError.self) { _ = try await client.readResource(uri: uri) }
    }

    @Test func figuresAndImagesComeBackAsImageContent() async throws {
        let client = try await connectedClient()
        let result = try await execute(
            client,
            [
                "language": "python",
                "code": """
                import matplotlib.pyplot as plt
                plt.figure(figsize=(2, 1), dpi=40)
                plt.plot([1, 3, 2])
                plt.show()
                open('/workspace/fake.png', 'w').write('not a png')
                open('/workspace/shape.svg', 'w').write('<svg xmlns="http://www.w3.org/2000/svg"/>')
                """,
            ])
        var images: [(String, String)] = []
        for case .image(let data, let mimeType, _, _) in result.content { images.append((data, mimeType)) }
        #expect(images.map(\.1).sorted() == ["image/png", "image/svg+xml"], "\(text(result))")
        let png = try #require(images.first { $0.1 == "image/png" }.flatMap { Data(base64Encoded: $0.0) })
        #expect(png.starts(with: [0x89, 0x50, 0x4E, 0x47]))
        #expect(text(result).contains("fake.png (9 bytes, image/png)"))
        #expect(text(result).contains("image not shown: its contents are not a png image"))
    }

    @Test func imagesAreCappedInCountAndSize() async throws {
        let client = try await client {
            $0.maxImages = 2
            $0.maxImageBytes = 2_000
        }
        let result = try await execute(
            client,
            [
                "language": "python",
                "code": """
                header = bytes([0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A])
                for i in range(4):
                    open(f'/workspace/{i}.png', 'wb').write(header + bytes(10))
                open('/workspace/big.png', 'wb').write(header + bytes(5000))
                """,
            ])
        let count = result.content.filter { if case .image = $0 { true } else { false } }.count
        #expect(count == 2, "\(text(result))")
        #expect(text(result).contains("past the limit of 2 images a result"))
        #expect(text(result).contains("larger than the 2000-byte image limit"))
    }

    @Test func progressIsReportedWhileARunLasts() async throws {
        let ticks = Mutex<[ProgressNotification.Parameters]>([])
        let (arrived, arrival) = AsyncStream<Void>.makeStream()
        let reporter = ProgressReporter(
            token: .string("t"),
            send: { message in
                ticks.withLock { $0.append(message.params) }
                arrival.yield()
            }, interval: .milliseconds(20))
        let progress = ExecutionProgress()
        progress.wrote(5, toStderr: false)
        progress.wrote(3, toStderr: true)
        // The work lasts until three notifications have come: no clock decides the outcome.
        let answer = await reporter.reporting(progress) { () async -> Int in
            var iterator = arrived.makeAsyncIterator()
            for _ in 0..<3 { await iterator.next() }
            return 42
        }
        #expect(answer == 42)
        let sent = ticks.withLock { $0 }
        #expect(sent.count >= 3)
        #expect(sent.map(\.progress) == sent.map(\.progress).sorted() && Set(sent.map(\.progress)).count == sent.count)
        #expect(sent.allSatisfy { $0.progressToken == .string("t") })
        #expect(
            sent.last?.message?.contains("5 bytes of stdout and 3 of stderr") == true, "\(sent.last?.message ?? "")")
        // Nothing is sent once the work is over.
        let after = sent.count
        try await Task.sleep(for: .milliseconds(100))
        #expect(ticks.withLock { $0.count } == after)
    }

    @Test func aCallWithAProgressTokenGetsNotifications() async throws {
        let client = try await connectedClient()
        let received = Mutex(0)
        await client.onNotification(ProgressNotification.self) { _ in received.withLock { $0 += 1 } }
        let context: RequestContext<CallTool.Result> = try await client.callTool(
            name: "execute_code", arguments: ["language": "javascript", "code": "for (;;) {}", "timeout_ms": 6000],
            meta: Metadata(progressToken: .string("run-1")))
        let result = try await context.value
        #expect(result.structuredContent?.objectValue?["status"] == "timed_out")
        #expect(received.withLock { $0 } >= 1)
    }
}
