/// What one run may still write to files and create, charged by ``FileWrites``.
///
/// Touched only on the run's own thread, inside its host calls.
package final class FileQuota: @unchecked Sendable {
    package private(set) var bytesLeft: Int
    package private(set) var entriesLeft: Int
    /// Set once a call was refused for want of quota.
    package private(set) var exhausted = false
    /// The backend's own state for forwarding file calls (Wasmtime: the forwarder's functions).
    package var forwarder: Any?

    package init(bytes: Int, entries: Int) {
        bytesLeft = max(bytes, 0)
        entriesLeft = max(entries, 0)
    }

    package func take(bytes: Int) -> Bool {
        guard bytes <= bytesLeft else {
            exhausted = true
            return false
        }
        bytesLeft -= bytes
        return true
    }

    package func give(bytes: Int) { bytesLeft += bytes }

    package func takeEntry() -> Bool {
        guard entriesLeft > 0 else {
            exhausted = true
            return false
        }
        entriesLeft -= 1
        return true
    }

    package func giveEntry() { entriesLeft += 1 }
}
