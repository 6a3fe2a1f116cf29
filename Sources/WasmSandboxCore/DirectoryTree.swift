#if canImport(Glibc)
    import Glibc
#endif

/// Descriptor-relative operations on a directory tree a guest may have shaped.
///
/// A guest can nest directories until their host path is longer than `PATH_MAX`, or plant
/// symbolic links, so nothing here builds a host path: every step opens the next entry
/// relative to the descriptor of its parent, never follows a link, and holds one directory
/// open at a time (the way back up is `..`, which is safe because the guest has stopped).
package enum DirectoryTree {
    /// What a walk found.
    package struct Listing {
        package var files: [WorkspaceFile] = []
        /// Files, directories, links and anything else, excluding the root.
        package var entries = 0
        /// Sizes of regular files.
        package var bytes = 0
        /// False when the walk stopped at its entry budget or could not open a directory, or
        /// left files out at its path budget.
        package var complete = true
    }

    /// The most bytes of paths a listing holds, all files together: a guest can nest
    /// directories with long names thousands deep, making each path megabytes long, and
    /// every file's path would be copied into every result that lists it.
    package static let maxPathBytes = 1 << 20

    package static let directoryFlags = O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC

    /// Lists the regular files under `root` (a directory descriptor, not consumed), visiting
    /// at most `budget` entries and listing at most `pathBudget` bytes of paths (files past it
    /// are counted in `entries` and `bytes` but not listed).
    package static func walk(_ root: Int32, budget: Int = 1_000_000, pathBudget: Int = maxPathBytes) -> Listing {
        var listing = Listing()
        var fd = openat(root, ".", directoryFlags)
        guard fd >= 0 else {
            listing.complete = false
            return listing
        }
        var pathBytes = 0
        // The current directory's path, grown on the way down and cut on the way up, in place:
        // a prefix per level would hold (and copy) the square of the depth.
        var prefix: [UInt8] = []
        // Each frame: the length of `prefix` when it was entered, and the subdirectories still
        // to visit.
        var stack: [(prefixLength: Int, pending: [String])] = []
        func read() {
            var subdirectories: [String] = []
            forEachEntry(fd) { name, info in
                listing.entries += 1
                guard listing.entries <= budget else {
                    listing.complete = false
                    return false
                }
                switch info.st_mode & S_IFMT {
                case S_IFREG:
                    let size = Int(info.st_size)
                    listing.bytes += size
                    let length = prefix.count + name.utf8.count
                    guard pathBytes + length <= pathBudget else {
                        listing.complete = false
                        return true
                    }
                    pathBytes += length
                    listing.files.append(
                        WorkspaceFile(
                            path: String(decoding: prefix, as: UTF8.self) + name, size: size,
                            modified: Int64(info.st_mtim.tv_sec) * 1_000_000_000 + Int64(info.st_mtim.tv_nsec)))
                case S_IFDIR: subdirectories.append(name)
                default: break
                }
                return true
            }
            stack.append((prefix.count, subdirectories.reversed()))
        }
        read()
        while let top = stack.last {
            if listing.entries <= budget, let next = stack[stack.count - 1].pending.popLast() {
                let child = openat(fd, next, directoryFlags)
                guard child >= 0 else {
                    listing.complete = false
                    continue
                }
                close(fd)
                fd = child
                prefix.removeLast(prefix.count - top.prefixLength)
                prefix += next.utf8
                prefix.append(UInt8(ascii: "/"))
                read()
                continue
            }
            stack.removeLast()
            if stack.isEmpty { break }
            let parent = openat(fd, "..", directoryFlags)
            close(fd)
            guard parent >= 0 else {
                listing.complete = false
                return listing
            }
            fd = parent
        }
        close(fd)
        listing.files.sort { $0.path < $1.path }
        return listing
    }

    /// Deletes everything under the directory `root` (not consumed), however deep.
    /// Returns false when something could not be removed.
    package static func removeContents(of root: Int32) -> Bool {
        var fd = openat(root, ".", directoryFlags)
        guard fd >= 0 else { return false }
        var names: [String] = []
        var ok = true
        while true {
            var subdirectory: String?
            var removed = false
            forEachEntry(fd) { name, info in
                if info.st_mode & S_IFMT == S_IFDIR {
                    subdirectory = name
                    return false
                }
                if unlinkat(fd, name, 0) == 0 { removed = true } else { ok = false }
                return true
            }
            // readdir need not report entries after a removal: look again until a pass is clean.
            if subdirectory == nil && removed && ok { continue }
            if let subdirectory {
                let child = openat(fd, subdirectory, directoryFlags)
                if child >= 0 {
                    close(fd)
                    fd = child
                    names.append(subdirectory)
                    continue
                }
                // Cannot descend: try to remove it as it is, then give up on it.
                if unlinkat(fd, subdirectory, AT_REMOVEDIR) != 0 {
                    ok = false
                    break
                }
                continue
            }
            guard let name = names.popLast() else { break }
            let parent = openat(fd, "..", directoryFlags)
            close(fd)
            guard parent >= 0 else { return false }
            fd = parent
            if unlinkat(fd, name, AT_REMOVEDIR) != 0 {
                ok = false
                break
            }
        }
        close(fd)
        return ok
    }

    /// Opens the regular file at `path` below `root` for reading, refusing `..`, absolute
    /// paths and a symbolic link in any component. Returns the descriptor or -1.
    package static func openRegularFile(_ path: String, below root: Int32) -> Int32 {
        let components = path.split(separator: "/", omittingEmptySubsequences: true).map(String.init)
        guard !components.isEmpty, !path.hasPrefix("/"), !path.utf8.contains(0),
            components.allSatisfy({ $0 != "." && $0 != ".." })
        else { return -1 }
        var directory = openat(root, ".", directoryFlags)
        for component in components.dropLast() where directory >= 0 {
            let next = openat(directory, component, directoryFlags)
            close(directory)
            directory = next
        }
        guard directory >= 0 else { return -1 }
        defer { close(directory) }
        let fd = openat(directory, components.last!, O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NONBLOCK)
        guard fd >= 0 else { return -1 }
        var info = stat()
        guard fstat(fd, &info) == 0, info.st_mode & S_IFMT == S_IFREG else {
            close(fd)
            return -1
        }
        return fd
    }

    /// Calls `body` with each entry of the directory `fd` (not consumed) and its `lstat`,
    /// until it returns false. The directory is read from its start.
    private static func forEachEntry(_ fd: Int32, _ body: (String, stat) -> Bool) {
        let copy = fcntl(fd, F_DUPFD_CLOEXEC, 0)
        guard copy >= 0, let stream = fdopendir(copy) else {
            if copy >= 0 { close(copy) }
            return
        }
        defer { closedir(stream) }
        rewinddir(stream)
        while let entry = readdir(stream) {
            let name = withUnsafePointer(to: entry.pointee.d_name) {
                $0.withMemoryRebound(to: CChar.self, capacity: 256) { String(cString: $0) }
            }
            if name == "." || name == ".." { continue }
            var info = stat()
            guard fstatat(fd, name, &info, AT_SYMLINK_NOFOLLOW) == 0 else { continue }
            if !body(name, info) { return }
        }
    }
}
