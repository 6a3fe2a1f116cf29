import Foundation

/// A file the guest left in a workspace.
public struct WorkspaceFile: Sendable, Hashable, Encodable {
    /// The path relative to the workspace root.
    public var path: String
    /// The size in bytes.
    public var size: Int

    public init(path: String, size: Int) {
        self.path = path
        self.size = size
    }
}

/// A private scratch directory for one run: created with optional input files, mounted
/// writable into the guest, listed after the run, and removed when the caller is done
/// (``remove()``, or when the last reference goes away).
///
/// Only regular files are listed and read back; a symbolic link the guest made is never
/// followed, so it cannot point the caller at a host file.
public final class Workspace: Sendable {
    /// The directory on the host.
    public let directory: URL
    /// Where the guest sees it.
    public let guestPath: String

    /// Creates an empty private directory and writes `files` (relative path → bytes) into it.
    public init(files: [String: [UInt8]] = [:], guestPath: String = "/workspace") throws(SandboxError) {
        let directory = FileManager.default.temporaryDirectory
            .appendingPathComponent("wasm-sandbox-workspace-\(UUID().uuidString)")
        do {
            try FileManager.default.createDirectory(
                at: directory, withIntermediateDirectories: false, attributes: [.posixPermissions: 0o700])
        } catch {
            throw SandboxError("cannot create a workspace: \(error.localizedDescription)", kind: .internalError)
        }
        self.directory = directory
        self.guestPath = guestPath
        for (path, bytes) in files.sorted(by: { $0.key < $1.key }) {
            let components = path.split(separator: "/", omittingEmptySubsequences: false)
            guard !path.isEmpty, !path.hasPrefix("/"), !path.utf8.contains(0),
                components.allSatisfy({ !$0.isEmpty && $0 != "." && $0 != ".." })
            else {
                remove()
                throw SandboxError("invalid workspace file name '\(path)': use a relative path without '..'")
            }
            let url = directory.appendingPathComponent(path)
            do {
                try FileManager.default.createDirectory(
                    at: url.deletingLastPathComponent(), withIntermediateDirectories: true)
                try Data(bytes).write(to: url)
            } catch {
                remove()
                throw SandboxError("cannot write workspace file '\(path)': \(error.localizedDescription)")
            }
        }
    }

    deinit { remove() }

    /// Deletes the directory and everything in it.
    public func remove() {
        try? FileManager.default.removeItem(at: directory)
    }

    /// The regular files in the workspace, sorted by path.
    public func files() -> [WorkspaceFile] {
        var files: [WorkspaceFile] = []
        walk { path, size in files.append(WorkspaceFile(path: path, size: size)) }
        return files.sorted { $0.path < $1.path }
    }

    /// The bytes of a regular file in the workspace; `nil` for anything else.
    public func contents(of path: String) -> [UInt8]? {
        guard !path.split(separator: "/").contains("..") else { return nil }
        let url = directory.appendingPathComponent(path)
        let fd = open(url.path, O_RDONLY | O_NOFOLLOW)
        guard fd >= 0 else { return nil }
        let handle = FileHandle(fileDescriptor: fd, closeOnDealloc: true)
        var info = stat()
        guard fstat(fd, &info) == 0, info.st_mode & S_IFMT == S_IFREG else { return nil }
        guard let data = try? handle.readToEnd() else { return nil }
        return [UInt8](data)
    }

    /// Total bytes and entries (files, directories, links) in the workspace.
    func usage() -> (bytes: Int, entries: Int) {
        var bytes = 0
        var entries = 0
        walk(everyEntry: { entries += 1 }, { _, size in bytes += size })
        return (bytes, entries)
    }

    /// Visits regular files without following links.
    private func walk(everyEntry: () -> Void = {}, _ visit: (String, Int) -> Void) {
        let keys: [URLResourceKey] = [.isRegularFileKey, .fileSizeKey]
        guard let enumerator = FileManager.default.enumerator(at: directory, includingPropertiesForKeys: keys) else {
            return
        }
        let root = directory.standardizedFileURL.path + "/"
        for case let url as URL in enumerator {
            everyEntry()
            guard let values = try? url.resourceValues(forKeys: Set(keys)), values.isRegularFile == true else {
                continue
            }
            let path = url.standardizedFileURL.path
            visit(
                path.hasPrefix(root) ? String(path.dropFirst(root.count)) : url.lastPathComponent, values.fileSize ?? 0)
        }
    }
}
