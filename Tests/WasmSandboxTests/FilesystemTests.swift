import Foundation
import Testing
import WasmSandbox

@Suite("The guest sees only what is mounted")
struct FilesystemTests {
    /// WASI errno values the guests exit with.
    static let badFileDescriptor: Int32 = 8

    /// A mount holding `inside.txt`, a secret beside it, and symlinks that point out.
    struct Fixture {
        let root: URL
        let mount: URL

        init() throws {
            root = try makeTemporaryDirectory()
            mount = root.appendingPathComponent("mount")
            try FileManager.default.createDirectory(at: mount, withIntermediateDirectories: true)
            try "inside".write(to: mount.appendingPathComponent("inside.txt"), atomically: true, encoding: .utf8)
            try "secret".write(to: root.appendingPathComponent("secret.txt"), atomically: true, encoding: .utf8)
            try FileManager.default.createSymbolicLink(
                atPath: mount.appendingPathComponent("to-secret").path, withDestinationPath: "../secret.txt")
            try FileManager.default.createSymbolicLink(
                atPath: mount.appendingPathComponent("to-passwd").path, withDestinationPath: "/etc/passwd")
        }

        func run(_ guest: String, path: String, writable: Bool = false) async -> ExecutionResult {
            var given = request(guest, arguments: [path])
            given.mounts = [Mount(hostPath: mount.path, guestPath: "/data", writable: writable)]
            return await sharedSandbox.execute(given)
        }

        func remove() { try? FileManager.default.removeItem(at: root) }
    }

    @Test(arguments: backends) func mountedFileIsReadable(backend: SandboxBackendKind) async throws {
        try await onBackend(backend) {
            let fixture = try Fixture()
            defer { fixture.remove() }
            let result = await fixture.run(Guests.readFile, path: "inside.txt")
            #expect(result.status == .ok)
            #expect(result.stdoutText == "inside")
        }
    }

    /// A FIFO someone put in a mount: opening it would block the run's thread until a writer
    /// came, past every deadline (the wasmtime CLI still blocks on it). The guest gets ENOTSUP
    /// instead, on read-only and writable mounts; a regular file beside it still opens.
    @Test(arguments: backends, [false, true]) func aFIFOInAMountIsRefusedInsteadOfBlocking(
        backend: SandboxBackendKind, writable: Bool
    ) async throws {
        try await onBackend(backend) {
            let fixture = try Fixture()
            defer { fixture.remove() }
            #expect(mkfifo(fixture.mount.appendingPathComponent("pipe").path, 0o600) == 0)
            let result = await fixture.run(Guests.readFile, path: "pipe", writable: writable)
            #expect(result.status == .exited, "\(result.message ?? "")")
            #expect(result.exitCode == 58)  // ENOTSUP
            let inside = await fixture.run(Guests.readFile, path: "inside.txt", writable: writable)
            #expect(inside.stdoutText == "inside")
        }
    }

    @Test(arguments: backends) func withoutMountsThereIsNoFilesystem(backend: SandboxBackendKind) async throws {
        try await onBackend(backend) {
            let result = await run(Guests.readFile, arguments: ["etc/passwd"])
            #expect(result.status == .exited)
            #expect(result.exitCode == Self.badFileDescriptor)
            #expect(result.stdout.isEmpty)
        }
    }

    @Test(arguments: ["/etc/passwd", "../secret.txt", "../../../../etc/passwd", "to-secret", "to-passwd"])
    func escapesAreDenied(path: String) async throws {
        let fixture = try Fixture()
        defer { fixture.remove() }
        let result = await fixture.run(Guests.readFile, path: path)
        #expect(result.status == .exited, "\(path) was opened: \(result.stdoutText)")
        #expect(result.exitCode != 0)
        #expect(!result.stdoutText.contains("secret") && !result.stdoutText.contains("root:"))
    }

    @Test(arguments: backends) func readOnlyMountRefusesWrites(backend: SandboxBackendKind) async throws {
        try await onBackend(backend) {
            let fixture = try Fixture()
            defer { fixture.remove() }
            let result = await fixture.run(Guests.writeFile, path: "new.txt", writable: false)
            #expect(result.status == .exited)
            #expect(!FileManager.default.fileExists(atPath: fixture.mount.appendingPathComponent("new.txt").path))
        }
    }

    @Test(arguments: backends) func writableMountKeepsWhatTheGuestWrote(backend: SandboxBackendKind) async throws {
        try await onBackend(backend) {
            let fixture = try Fixture()
            defer { fixture.remove() }
            let result = await fixture.run(Guests.writeFile, path: "new.txt", writable: true)
            #expect(result.status == .ok, "\(result.message ?? "") exit \(result.exitCode ?? -1)")
            let written = try String(contentsOf: fixture.mount.appendingPathComponent("new.txt"), encoding: .utf8)
            #expect(written == "written")
        }
    }

    @Test(arguments: backends) func writingOutOfAWritableMountIsDenied(backend: SandboxBackendKind) async throws {
        try await onBackend(backend) {
            let fixture = try Fixture()
            defer { fixture.remove() }
            let result = await fixture.run(Guests.writeFile, path: "../escaped.txt", writable: true)
            #expect(result.status == .exited)
            #expect(!FileManager.default.fileExists(atPath: fixture.root.appendingPathComponent("escaped.txt").path))
        }
    }

    // Runs with a writable mount keep Wasmtime's own fd_write; output capture and its cap
    // must hold there too.
    @Test(arguments: backends) func outputIsCapturedWithWritableMounts(backend: SandboxBackendKind) async throws {
        try await onBackend(backend) {
            let fixture = try Fixture()
            defer { fixture.remove() }
            #expect(await fixture.run(Guests.hello, path: "", writable: true).stdoutText == "hello\n")
            var flood = request(Guests.stdoutFlood, limits: ExecutionLimits(stdoutBytes: 10_000))
            flood.mounts = [Mount(hostPath: fixture.mount.path, guestPath: "/data", writable: true)]
            let result = await sharedSandbox.execute(flood)
            #expect(result.status == .outputLimit)
            #expect(result.stdout.count == 10_000)
        }
    }

    @Test(arguments: backends) func missingMountDirectoryIsAClearError(backend: SandboxBackendKind) async throws {
        try await onBackend(backend) {
            var given = request(Guests.hello)
            given.mounts = [Mount(hostPath: "/nonexistent/wasm-sandbox", guestPath: "/data")]
            let result = await sharedSandbox.execute(given)
            #expect(result.status == .invalidInput)
            #expect(result.message?.contains("/nonexistent/wasm-sandbox") == true, "\(result.message ?? "")")
        }
    }
}
