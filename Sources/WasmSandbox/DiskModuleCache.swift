import Crypto
import Foundation
import Synchronization

#if canImport(Glibc)
    import Glibc
#endif

/// Compiled modules serialized to a private directory, so a new process skips compilation.
///
/// Deserialized bytes become native code, so a file is used only when its header names this
/// engine, its key matches, and the SHA-256 of its payload checks out. Anything else (a
/// truncated, corrupt or foreign file) is deleted and the module recompiled. The directory is
/// the trust boundary: it must belong to this user and be closed to everyone else.
///
/// The directory is bounded by ``maxBytes``: a store that takes it past the bound deletes
/// the least recently used files (a hit refreshes a file's time). Several processes may
/// share the directory: files appear by atomic rename, and a reader maps a file it has
/// opened, so a concurrent eviction or replacement never changes bytes under it.
final class DiskModuleCache: Sendable {
    let directory: URL
    /// Identifies the engine build and configuration the serialized code is valid for.
    let engineFingerprint: [UInt8]
    /// Bytes the directory may hold.
    let maxBytes: Int
    /// What this process believes the directory holds; re-measured when it passes the bound.
    private let estimatedBytes: Mutex<Int>

    private static let magic = Array("WSBXMOD1".utf8)
    private static let headerSize = magic.count + 32 + 32 + 32 + 8

    /// Opens (creating if needed) a private cache directory; fails when it is not private.
    init(directory: URL, engineFingerprint: [UInt8], maxBytes: Int = 2 << 30) throws {
        let path = directory.path
        try FileManager.default.createDirectory(
            at: directory, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700])
        var info = stat()
        guard lstat(path, &info) == 0, info.st_mode & S_IFMT == S_IFDIR else {
            throw SandboxError("module cache '\(path)' is not a directory")
        }
        guard info.st_uid == geteuid(), info.st_mode & 0o077 == 0 else {
            throw SandboxError("module cache '\(path)' must belong to this user and have mode 0700")
        }
        self.directory = directory
        self.engineFingerprint = engineFingerprint
        self.maxBytes = maxBytes
        estimatedBytes = Mutex(Self.entries(in: directory).reduce(0) { $0 + $1.size })
    }

    private func file(for key: [UInt8]) -> URL {
        // Each engine configuration has its own file per module.
        directory.appendingPathComponent("\(key.hexString)-\(engineFingerprint.prefix(8).hexString).cwasm")
    }

    /// Calls `body` with the serialized module stored under `key` when a trustworthy one
    /// exists. The file is memory-mapped and checked in place, not copied.
    func withVerifiedPayload<T>(key: [UInt8], _ body: (UnsafeRawBufferPointer) -> T?) -> T? {
        let url = file(for: key)
        guard let data = try? Data(contentsOf: url, options: .alwaysMapped) else { return nil }
        // Recently used files are the last to be evicted.
        utimensat(AT_FDCWD, url.path, nil, 0)
        return data.withUnsafeBytes { bytes in
            guard let payload = Self.verify(bytes, key: key, engine: engineFingerprint) else { return nil }
            return body(payload)
        }
    }

    /// Removes an entry whose bytes the engine refused.
    func discard(key: [UInt8]) {
        try? FileManager.default.removeItem(at: file(for: key))
    }

    /// Stores a serialized module atomically: readers see the old file or the whole new one.
    func store(key: [UInt8], serialized: [UInt8]) {
        // A file that would take most of the cache is not worth keeping.
        guard serialized.count + Self.headerSize <= maxBytes / 2 else { return }
        var bytes = Self.magic + engineFingerprint + key + Array(SHA256.hash(data: serialized))
        withUnsafeBytes(of: UInt64(serialized.count).littleEndian) { bytes.append(contentsOf: $0) }
        bytes += serialized
        let target = file(for: key)
        let temporary = directory.appendingPathComponent(".\(UUID().uuidString).tmp")
        do {
            try Data(bytes).write(to: temporary, options: [.withoutOverwriting])
            chmod(temporary.path, 0o600)
            guard rename(temporary.path, target.path) == 0 else { throw SandboxError("rename failed") }
        } catch {
            try? FileManager.default.removeItem(at: temporary)
            return
        }
        let total = estimatedBytes.withLock { total in
            total += bytes.count
            return total
        }
        if total > maxBytes { evict() }
    }

    /// Deletes the least recently used files until the directory is within three quarters
    /// of its bound, so that eviction does not run on every store.
    private func evict() {
        var entries = Self.entries(in: directory).sorted { $0.used < $1.used }
        var total = entries.reduce(0) { $0 + $1.size }
        while total > maxBytes * 3 / 4, !entries.isEmpty {
            let oldest = entries.removeFirst()
            if unlink(oldest.path) == 0 { total -= oldest.size }
        }
        estimatedBytes.withLock { $0 = total }
    }

    /// The cache files in `directory` (and abandoned temporary files), with their sizes and
    /// last use.
    private static func entries(in directory: URL) -> [(path: String, size: Int, used: Int)] {
        guard let names = try? FileManager.default.contentsOfDirectory(atPath: directory.path) else { return [] }
        return names.compactMap { name in
            guard name.hasSuffix(".cwasm") || name.hasSuffix(".tmp") else { return nil }
            let path = directory.appendingPathComponent(name).path
            var info = stat()
            guard lstat(path, &info) == 0, info.st_mode & S_IFMT == S_IFREG else { return nil }
            return (path, Int(info.st_size), info.st_mtim.tv_sec * 1_000_000_000 + info.st_mtim.tv_nsec)
        }
    }

    /// The payload of a cache file when its header and checksum are right.
    static func verify(_ bytes: UnsafeRawBufferPointer, key: [UInt8], engine: [UInt8]) -> UnsafeRawBufferPointer? {
        guard bytes.count >= headerSize, bytes.starts(with: magic) else { return nil }
        var offset = magic.count
        func take(_ count: Int) -> UnsafeRawBufferPointer {
            defer { offset += count }
            return UnsafeRawBufferPointer(rebasing: bytes[offset..<offset + count])
        }
        guard take(32).elementsEqual(engine), take(32).elementsEqual(key) else { return nil }
        let digest = take(32)
        let length = take(8).reversed().reduce(UInt64(0)) { $0 << 8 | UInt64($1) }
        guard length == UInt64(bytes.count - headerSize) else { return nil }
        let payload = UnsafeRawBufferPointer(rebasing: bytes[headerSize...])
        guard digest.elementsEqual(SHA256.hash(data: payload)) else { return nil }
        return payload
    }
}

extension Sequence<UInt8> {
    var hexString: String { map { String(format: "%02x", $0) }.joined() }
}
