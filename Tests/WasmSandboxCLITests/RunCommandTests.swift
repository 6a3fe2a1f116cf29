import ArgumentParser
import Foundation
import Testing
import WasmSandbox

@testable import WasmSandboxCLICommands

@Suite("wasm-sandbox run, parsed and run in-process")
struct RunCommandTests {
    /// Timing is not what these tests check: a generous timeout holds on a loaded machine.
    static let generousTimeoutMs = "120000"

    /// A scratch directory holding `files`, removed by the caller.
    func directory(_ files: [String: String] = [:]) throws -> URL {
        let url = FileManager.default.temporaryDirectory.appendingPathComponent("cli-test-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
        for (name, text) in files {
            try text.write(to: url.appendingPathComponent(name), atomically: true, encoding: .utf8)
        }
        return url
    }

    @Test func runsAWATFileAndCapturesItsOutput() async throws {
        let folder = try directory(["hello.wat": Sandbox.canaryWAT])
        defer { try? FileManager.default.removeItem(at: folder) }
        let command = try RunCommand.parse(
            [folder.appendingPathComponent("hello.wat").path, "--no-cache", "--timeout-ms", Self.generousTimeoutMs])
        let result = try await command.outcome()
        #expect(result.status == .ok)
        #expect(result.stdoutText == "ok\n")
    }

    @Test func inlineCodeIsJavaScriptUnlessTheLanguageSaysOtherwise() async throws {
        let javascript = try await RunCommand.parse(
            ["--code", "console.log(6 * 7)", "--no-cache", "--timeout-ms", Self.generousTimeoutMs]
        ).outcome()
        #expect(javascript.status == .ok)
        #expect(javascript.stdoutText == "42\n")
        let wat = try await RunCommand.parse(
            ["--code", Sandbox.canaryWAT, "--lang", "wat", "--no-cache", "--timeout-ms", Self.generousTimeoutMs]
        ).outcome()
        #expect(wat.status == .ok)
        #expect(wat.stdoutText == "ok\n")
    }

    @Test func aDirectoryIsReadOnlyUnlessRWIsGiven() throws {
        let folder = try directory()
        defer { try? FileManager.default.removeItem(at: folder) }
        let plain = try RunCommand.parseMount(folder.path)
        #expect(plain.writable == false)
        #expect(plain.guestPath == folder.path)
        let writable = try RunCommand.parseMount("\(folder.path)::/out:rw")
        #expect(writable.writable == true)
        #expect(writable.guestPath == "/out")
        let readOnly = try RunCommand.parseMount("\(folder.path)::/in:ro")
        #expect(readOnly.writable == false)
        #expect(readOnly.guestPath == "/in")
    }

    @Test func aOneShotRunSizesItsSandboxForOneRun() throws {
        let configuration = try RunCommand.parse(["x.wat"]).sandboxConfiguration()
        #expect(configuration.maxConcurrentExecutions == 1)
        #expect(configuration.instanceAllocation == .onDemand)
    }

    @Test func helpNamesEveryLanguage() {
        let help = RunCommand.helpMessage()
        for word in [".wasm", ".wat", ".js", ".py", "python"] { #expect(help.contains(word), "\(word) missing") }
    }

    @Test func badFlagsAreUsageErrorsNamingTheFlag() {
        #expect(throws: (any Error).self) { try RunCommand.parse(["x.wat", "--timeout-ms", "0"]) }
        do {
            _ = try RunCommand.parse(["x.wat", "--memory-mb", "99999999"])
            Issue.record("an out-of-range memory limit was accepted")
        } catch {
            #expect(RunCommand.message(for: error).contains("--memory-mb"))
        }
    }
}

@Suite("wasm-sandbox serve's flags")
struct ServeCommandTests {
    @Test func anUnknownLogLevelIsAnErrorListingTheLevels() {
        do {
            _ = try ServeCommand.parse(["--log-level", "loud"])
            Issue.record("--log-level loud was accepted")
        } catch {
            let message = ServeCommand.message(for: error)
            #expect(message.contains("loud"))
            #expect(message.contains("warning"))
        }
        #expect((try? ServeCommand.parse(["--log-level", "debug"]))?.logLevel == .debug)
    }

    @Test func everyFlagHasHelp() {
        // ArgumentParser puts a long flag's help on the next line; either way, a flag without
        // help is followed directly by another flag or the end.
        let lines = ServeCommand.helpMessage(columns: 200).split(separator: "\n").map {
            $0.trimmingCharacters(in: .whitespaces)
        }
        let options = lines.firstIndex(of: "OPTIONS:")!
        let body = Array(lines[(options + 1)...])
        for (index, line) in body.enumerated() where line.hasPrefix("--") {
            let words = line.split(separator: " ")
            let helpOnThisLine = words.count > 2 || (words.count == 2 && !words[1].hasPrefix("<"))
            let next = index + 1 < body.count ? body[index + 1] : ""
            #expect(helpOnThisLine || (!next.isEmpty && !next.hasPrefix("-")), "no help for: \(line)")
        }
    }
}
