import Foundation
import Testing
import WasmSandbox

@Suite("Compiled-module cache")
struct CacheTests {
    func sandbox(cacheAt directory: URL?) throws -> Sandbox {
        var configuration = testConfiguration()
        configuration.maxConcurrentExecutions = 2
        configuration.diskCacheDirectory = directory
        return try Sandbox(configuration: configuration)
    }

    /// A module no other test uses, so its first run must compile.
    func uniqueHello() -> ExecutionRequest {
        ExecutionRequest(
            .wat(Guests.hello.replacingOccurrences(of: "(module", with: "(module $m\(UUID().uuidString.prefix(8))")))
    }

    func cacheFiles(_ directory: URL) throws -> [URL] {
        try FileManager.default.contentsOfDirectory(at: directory, includingPropertiesForKeys: nil)
            .filter { $0.pathExtension == "cwasm" }
    }

    @Test func secondRunHitsTheMemoryCache() async throws {
        let sandbox = try sandbox(cacheAt: nil)
        let hello = uniqueHello()
        #expect(await sandbox.execute(hello).cacheHit == false)
        #expect(await sandbox.execute(hello).cacheHit == true)
    }

    @Test func newProcessLoadsFromDisk() async throws {
        let directory = try makeTemporaryDirectory().appendingPathComponent("cache")
        defer { try? FileManager.default.removeItem(at: directory.deletingLastPathComponent()) }
        let hello = uniqueHello()
        let first = await (try sandbox(cacheAt: directory)).execute(hello)
        #expect(first.cacheHit == false)
        #expect(try cacheFiles(directory).count == 1)
        let attributes = try FileManager.default.attributesOfItem(atPath: directory.path)
        #expect((attributes[.posixPermissions] as? Int) == 0o700)
        // A second sandbox has an empty memory cache, as a new process would.
        let second = await (try sandbox(cacheAt: directory)).execute(hello)
        #expect(second.status == .ok)
        #expect(second.cacheHit == true)
    }

    @Test func theInstalledEnginesLoadPrecompiledWithoutACache() async throws {
        // scripts/test.sh ran `wasm-sandbox prepare`: a fresh sandbox with no disk cache
        // compiles neither engine, which for Python would take minutes.
        let sandbox = try sandbox(cacheAt: nil)
        let python = await sandbox.execute(ExecutionRequest(.python("print(6 * 7)")))
        #expect(python.stdoutText == "42\n", "\(python.message ?? "")")
        #expect(python.cacheHit == true)
        #expect(python.compileDuration == nil)
        var fueled = ExecutionRequest(.javascript("console.log(6 * 7)"))
        fueled.limits = ExecutionLimits(timeout: generousTimeout, fuel: 1 << 40)
        let javascript = await sandbox.execute(fueled)
        #expect(javascript.stdoutText == "42\n")
        #expect(javascript.cacheHit == true)
    }

    @Test func prepareCompilesAnEngineOnceAndReplacesStaleCopies() async throws {
        let directory = try makeTemporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let engine = directory.appendingPathComponent("javascript.wasm")
        let installed = try #require(SandboxConfiguration().javascriptEngine)
        try FileManager.default.copyItem(at: installed, to: engine)
        func sandbox() throws -> Sandbox {
            var configuration = testConfiguration()
            configuration.javascriptEngine = engine
            return try Sandbox(configuration: configuration)
        }
        func compiledCopies() throws -> [String] {
            try FileManager.default.contentsOfDirectory(atPath: directory.path).filter { $0.hasSuffix(".cwasm") }
                .sorted()
        }
        let script = ExecutionRequest(.javascript("console.log(6 * 7)"))
        // Not prepared: the first run compiles it, in process.
        #expect(await (try sandbox()).execute(script).cacheHit == false)

        let prepared = try (try sandbox()).prepareEngines()
        #expect(
            prepared.map { "\($0.language) \($0.metersFuel) \($0.compiled)" } == [
                "JavaScript false true", "Python false false", "JavaScript true true", "Python true false",
            ])
        let copies = try compiledCopies()
        #expect(copies.count == 2)
        let fresh = await (try sandbox()).execute(script)
        #expect(fresh.stdoutText == "42\n")
        #expect(fresh.cacheHit == true)
        #expect(try (try sandbox()).prepareEngines().allSatisfy { !$0.compiled })

        // A reinstalled engine is a new file: prepare compiles it again and removes the old copies.
        try FileManager.default.removeItem(at: engine)
        try FileManager.default.copyItem(at: installed, to: engine)
        #expect(try (try sandbox()).prepareEngines().filter(\.compiled).count == 2)
        let replaced = try compiledCopies()
        #expect(replaced.count == 2)
        #expect(Set(replaced).isDisjoint(with: copies))
    }

    @Test(arguments: ["corrupt", "truncated", "foreign"])
    func damagedCacheFileIsRecompiled(damage: String) async throws {
        let directory = try makeTemporaryDirectory().appendingPathComponent("cache")
        defer { try? FileManager.default.removeItem(at: directory.deletingLastPathComponent()) }
        let hello = uniqueHello()
        _ = await (try sandbox(cacheAt: directory)).execute(hello)
        let file = try #require(try cacheFiles(directory).first)
        var bytes = [UInt8](try Data(contentsOf: file))
        switch damage {
        case "corrupt": bytes[bytes.count / 2] ^= 0xFF
        case "truncated": bytes.removeLast(bytes.count / 3)
        default: bytes = Array("not a module from this cache".utf8)
        }
        try Data(bytes).write(to: file)
        let result = await (try sandbox(cacheAt: directory)).execute(hello)
        #expect(result.status == .ok)
        #expect(result.stdoutText == "hello\n")
        #expect(result.cacheHit == false)
        // The bad file was replaced by a good one.
        #expect(await (try sandbox(cacheAt: directory)).execute(hello).cacheHit == true)
    }

    @Test func cacheDirectoryOpenToOthersIsNotUsed() async throws {
        let directory = try makeTemporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        chmod(directory.path, 0o777)
        let result = await (try sandbox(cacheAt: directory)).execute(uniqueHello())
        #expect(result.status == .ok)
        #expect(try cacheFiles(directory).isEmpty)
    }
}
