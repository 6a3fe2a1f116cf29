import Foundation
import MCP
import Testing
import WasmSandbox

@testable import WasmSandboxFuzzing

/// Replays every committed fuzz corpus file through its target, so that the inputs the
/// fuzzers found interesting (and the reproducers of what they found) are checked by every
/// test run, not only when someone fuzzes.
@Suite struct CorpusReplayTests {
    static let corpus = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
        .deletingLastPathComponent().appendingPathComponent("FuzzCorpus")

    @Test(arguments: FuzzTarget.all.map(\.name))
    func corpusPasses(target name: String) throws {
        let target = try #require(FuzzTarget.all.first { $0.name == name })
        let directory = Self.corpus.appendingPathComponent(name)
        let files = try FileManager.default.contentsOfDirectory(atPath: directory.path).sorted()
        // A missing or emptied corpus would make this test pass vacuously.
        #expect(files.count >= 10, "\(directory.path) holds \(files.count) inputs")
        for file in files {
            let data = try Data(contentsOf: directory.appendingPathComponent(file))
            let failure = data.withUnsafeBytes { target.check($0) }
            #expect(failure == nil, "\(name)/\(file): \(failure ?? "")")
        }
    }

    // The oracles must fire on what they are meant to catch: a clean replay proves nothing
    // if the checks cannot fail.

    @Test func diskCacheOracleTellsGoodFilesFromBad() {
        var file = DiskCacheFuzzing.file(payload: Array("payload".utf8))
        #expect(DiskCacheFuzzing.verdict(file, key: DiskCacheFuzzing.key, engine: DiskCacheFuzzing.engine))
        #expect(!DiskCacheFuzzing.verdict(file, key: DiskCacheFuzzing.engine, engine: DiskCacheFuzzing.engine))
        file[file.count - 1] ^= 1
        #expect(!DiskCacheFuzzing.verdict(file, key: DiskCacheFuzzing.key, engine: DiskCacheFuzzing.engine))
    }

    @Test func mcpOracleRefusesLimitsPastTheMaxima() {
        let configuration = MCPArgumentsFuzzing.configurations[1]
        var limits = ExecutionLimits(
            timeout: .milliseconds(configuration.maxTimeoutMs), memoryBytes: configuration.maxMemoryMb << 20,
            stdoutBytes: configuration.maxOutputKb << 10, stderrBytes: configuration.maxOutputKb << 10)
        #expect(MCPArgumentsFuzzing.check(limits, raw: [:], configuration: configuration) == nil)
        limits.timeout += .milliseconds(1)
        #expect(MCPArgumentsFuzzing.check(limits, raw: [:], configuration: configuration) != nil)
        limits.timeout = .milliseconds(1)
        limits.fuel = configuration.maxFuel.map { $0 + 1 }
        #expect(MCPArgumentsFuzzing.check(limits, raw: ["fuel": .int(1)], configuration: configuration) != nil)
    }

    /// The guest's page comes back, and a change outside the declared output parameters is
    /// caught: here random_get's 32 bytes, declared as none.
    @Test func wasiOracleCatchesWritesOutsideOutputs() throws {
        // One call: random_get(64, 32); memory: 128 bytes of 0xAB.
        let input: [UInt8] = [0, 2, 64, 0, 0, 0, 32, 0, 0, 0] + [UInt8](repeating: 0xAB, count: 128)
        var program = input.withUnsafeBytes { WASIShadowsFuzzing.Program($0) }
        let result = WASIShadowsFuzzing.run(program, workspace: nil)
        #expect(result.status == .ok)
        #expect(result.stdout.count == WASIShadowsFuzzing.pageSize)
        #expect(WASIShadowsFuzzing.verify(program, result, workspace: nil) == nil)
        program.calls[0].arguments[1] = 0
        #expect(WASIShadowsFuzzing.verify(program, result, workspace: nil) != nil)
    }

    /// Written bytes count each file once however many links it has, skip holes and never
    /// follow links out of the workspace.
    @Test func writtenBytesCountsDataOnceAndNoHoles() throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("fuzz-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        let file = directory.appendingPathComponent("file").path
        #expect(FileManager.default.createFile(atPath: file, contents: nil))
        let handle = try #require(FileHandle(forWritingAtPath: file))
        try handle.write(contentsOf: Array("abc".utf8))
        try handle.seek(toOffset: 1 << 30)
        try handle.write(contentsOf: [0, 7])
        try handle.close()
        try FileManager.default.linkItem(atPath: file, toPath: directory.appendingPathComponent("link").path)
        try FileManager.default.createSymbolicLink(
            atPath: directory.appendingPathComponent("up").path, withDestinationPath: "..")
        #expect(WASIShadowsFuzzing.writtenBytes(below: directory.path) == 4)
    }
}
