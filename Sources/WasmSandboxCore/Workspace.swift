import Foundation
import Logging
import Synchronization

#if canImport(Glibc)
    import Glibc
#endif

/// A file the guest left in a workspace.
public struct WorkspaceFile: Sendable, Hashable, Encodable {
    /// The path relative to the workspace root.
    public var path: String
    /// The size in bytes.
    public var size: Int
    /// When it was last written, in nanoseconds since 1970 (not part of the JSON result): with
    /// the size, how a caller tells whether a run changed a file it saw before.
    public var modified: Int64

    public init(path: String, size: Int, modified: Int64 = 0) {
        self.path = path
        self.size = size
        self.modified = modified
    }

    private enum CodingKeys: String, CodingKey {
        case path, size
    }

    /// Equal files have the same path and size: when one was written says when, not what.
    public static func == (lhs: WorkspaceFile, rhs: WorkspaceFile) -> Bool {
        lhs.path == rhs.path && lhs.size == rhs.size
    }

    public func hash(into hasher: inout Hasher) {
        hasher.combine(path)
        hasher.combine(size)
    }
}

/// A private scratch directory for one run: created with optional input files, mounted
/// writable into the guest, listed after the run, and removed when the caller is done
/// (``remove()``, or when the last reference goes away).
///
/// The guest shapes what is inside, so every walk, read and removal goes through directory
/// descriptors (``DirectoryTree``): depth cannot hide a file, and a symbolic link is never
/// followed, in any path component.
public final class Workspace: Sendable {
    /// The directory on the host.
    public let directory: URL
    /// Where the guest sees it.
    public let guestPath: String
    /// Bytes and entries (files and directories) the input files took.
    package let inputUsage: (bytes: Int, entries: Int)

    /// The most input files a workspace accepts.
    public static let maxInputFiles = 1_000
    /// The most bytes of input files a workspace accepts, all files together.
    public static let maxInputBytes = 64 << 20

    private static let logger = Logger(label: "wasm-sandbox.workspace")

    /// Creates an empty private directory and writes `files` (relative path → bytes) into it.
    ///
    /// This blocks on disk I/O; servers call ``create(files:guestPath:)`` instead.
    ///
    /// - Throws: ``SandboxError`` for more than ``maxInputFiles`` files or ``maxInputBytes``
    ///   bytes, or a name that is absolute, empty, or contains `..`.
    public init(files: [String: [UInt8]] = [:], guestPath: String = "/workspace") throws(SandboxError) {
        guard files.count <= Self.maxInputFiles else {
            throw SandboxError("\(files.count) workspace files exceed the limit of \(Self.maxInputFiles)")
        }
        let total = files.values.reduce(0) { $0 + $1.count }
        guard total <= Self.maxInputBytes else {
            throw SandboxError("workspace files of \(total) bytes exceed the limit of \(Self.maxInputBytes) bytes")
        }
        for path in files.keys {
            let components = path.split(separator: "/", omittingEmptySubsequences: false)
            guard !path.isEmpty, !path.hasPrefix("/"), !path.utf8.contains(0),
                components.allSatisfy({ !$0.isEmpty && $0 != "." && $0 != ".." })
            else { throw SandboxError("invalid workspace file name '\(path)': use a relative path without '..'") }
        }
        Self.retryLeftovers()
        let directory = FileManager.default.temporaryDirectory
            .appendingPathComponent("wasm-sandbox-workspace-\(UUID().uuidString)")
        guard mkdir(directory.path, 0o700) == 0 else {
            throw SandboxError(
                "cannot create a workspace: \(String(cString: strerror(errno)))", kind: .internalError)
        }
        self.directory = directory
        self.guestPath = guestPath
        var entries = 0
        do {
            let root = try Self.openRoot(directory)
            defer { close(root) }
            for (path, bytes) in files.sorted(by: { $0.key < $1.key }) {
                entries += try Self.write(bytes, to: path, below: root)
            }
        } catch {
            inputUsage = (0, 0)
            remove()
            throw error
        }
        inputUsage = (total, entries)
    }

    /// Creates a workspace on a thread of the sandbox's own, so the disk I/O never blocks
    /// Swift's cooperative pool.
    public static func create(files: [String: [UInt8]] = [:], guestPath: String = "/workspace")
        async throws(SandboxError) -> Workspace
    {
        let result: Result<Workspace, SandboxError> = await BlockingIO.run {
            Result { () throws(SandboxError) in try Workspace(files: files, guestPath: guestPath) }
        }
        return try result.get()
    }

    deinit { remove() }

    /// Deletes the directory and everything in it, however deep. A failure is logged and
    /// the directory retried when the next workspace is created.
    public func remove() {
        guard FileManager.default.fileExists(atPath: directory.path) else { return }
        if !Self.removeTree(directory) {
            Self.logger.error(
                "cannot remove workspace; will retry", metadata: ["directory": "\(directory.path)"])
            _ = Self.leftovers.withLock { $0.insert(directory) }
        }
    }

    /// Removes the workspace on a sandbox thread without waiting: for async callers.
    public func removeInBackground() {
        BlockingIO.submit { [self] in remove() }
    }

    /// The regular files in the workspace, sorted by path.
    public func files() -> [WorkspaceFile] { listing().files }

    /// The bytes of a regular file in the workspace of at most `maxBytes`; `nil` for
    /// anything else, including a path through a symbolic link.
    ///
    /// A guest can make a file far larger than what it wrote (a write past the end leaves a
    /// hole that takes no disk space), so the size is checked before anything is read.
    public func contents(of path: String, maxBytes: Int = 64 << 20) -> [UInt8]? {
        guard let root = try? Self.openRoot(directory) else { return nil }
        defer { close(root) }
        let fd = DirectoryTree.openRegularFile(path, below: root)
        guard fd >= 0 else { return nil }
        let handle = FileHandle(fileDescriptor: fd, closeOnDealloc: true)
        var info = stat()
        guard fstat(fd, &info) == 0, Int(info.st_size) <= maxBytes else { return nil }
        return (try? handle.readToEnd()).map { [UInt8]($0) } ?? []
    }

    /// Everything in the workspace now.
    package func listing() -> DirectoryTree.Listing {
        guard let root = try? Self.openRoot(directory) else { return DirectoryTree.Listing(complete: false) }
        defer { close(root) }
        return DirectoryTree.walk(root)
    }

    private static func openRoot(_ directory: URL) throws(SandboxError) -> Int32 {
        let fd = open(directory.path, DirectoryTree.directoryFlags)
        guard fd >= 0 else {
            throw SandboxError("cannot open the workspace: \(String(cString: strerror(errno)))", kind: .internalError)
        }
        return fd
    }

    /// Writes one input file, creating its directories; returns the entries created.
    private static func write(_ bytes: [UInt8], to path: String, below root: Int32) throws(SandboxError) -> Int {
        let components = path.split(separator: "/").map(String.init)
        var created = 0
        var directory = fcntl(root, F_DUPFD_CLOEXEC, 0)
        defer { close(directory) }
        for component in components.dropLast() {
            if mkdirat(directory, component, 0o700) == 0 { created += 1 }
            let next = openat(directory, component, DirectoryTree.directoryFlags)
            guard next >= 0 else { throw SandboxError("workspace file '\(path)' conflicts with another file") }
            close(directory)
            directory = next
        }
        let fd = openat(directory, components.last!, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0o600)
        guard fd >= 0 else { throw SandboxError("workspace file '\(path)' conflicts with another file") }
        defer { close(fd) }
        var written = 0
        while written < bytes.count {
            let count = bytes.withUnsafeBytes { Glibc.write(fd, $0.baseAddress! + written, bytes.count - written) }
            guard count > 0 else {
                throw SandboxError(
                    "cannot write workspace file '\(path)': \(String(cString: strerror(errno)))",
                    kind: .internalError)
            }
            written += count
        }
        return created + 1
    }

    private static func removeTree(_ directory: URL) -> Bool {
        let fd = open(directory.path, DirectoryTree.directoryFlags)
        guard fd >= 0 else { return errno == ENOENT }
        let emptied = DirectoryTree.removeContents(of: fd)
        close(fd)
        return emptied && rmdir(directory.path) == 0
    }

    private static let leftovers = Mutex<Set<URL>>([])

    private static func retryLeftovers() {
        let pending = leftovers.withLock { set in
            defer { set.removeAll() }
            return set
        }
        for directory in pending where !removeTree(directory) {
            logger.error("still cannot remove workspace", metadata: ["directory": "\(directory.path)"])
            leftovers.withLock { _ = $0.insert(directory) }
        }
    }
}
