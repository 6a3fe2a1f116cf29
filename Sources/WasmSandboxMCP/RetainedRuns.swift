import Foundation
import WasmSandbox

/// The workspaces of stateless runs whose files a result linked to, kept so that the client
/// can read those files (`resources/read`) for a grace period after the result.
///
/// Bounded on every axis a client could push: each workspace goes after `grace`, when its
/// connection closes, or when `capacity` newer ones were kept (all connections together),
/// so disk use is at most `capacity` workspaces, whatever the number of calls. One timer
/// serves them all (they expire in the order they were kept), not a sleeping task per run.
actor RetainedRuns {
    private struct Entry {
        let workspace: Workspace
        let owner: UInt64
        let expires: ContinuousClock.Instant
    }

    private let capacity: Int
    private let grace: Duration
    private var entries: [String: Entry] = [:]
    /// Ids from oldest to newest, for eviction at the cap.
    private var order: [String] = []
    private var expiry: Task<Void, Never>?

    init(capacity: Int = 64, grace: Duration) {
        self.capacity = capacity
        self.grace = grace
    }

    /// Keeps `workspace` under `id` (a random one, from ``newID()``) for `owner`.
    func retain(_ workspace: Workspace, id: String, owner: UInt64) {
        entries[id] = Entry(workspace: workspace, owner: owner, expires: .now + grace)
        order.append(id)
        while order.count > capacity { drop(order[0]) }
        if expiry == nil {
            expiry = Task { [weak self] in await self?.expireInOrder() }
        }
    }

    /// Drops each kept workspace when its grace ends, oldest first, until none is left.
    private func expireInOrder() async {
        while let oldest = order.first, let entry = entries[oldest] {
            if entry.expires > .now {
                try? await Task.sleep(until: entry.expires, clock: .continuous)
                continue
            }
            drop(oldest)
        }
        expiry = nil
    }

    /// An id no client can guess, so that a run's files are found only through its result.
    static func newID() -> String { UUID().uuidString.lowercased() }

    /// The workspace kept under `id`, when `owner` kept it.
    func workspace(_ id: String, owner: UInt64) -> Workspace? {
        guard let entry = entries[id], entry.owner == owner else { return nil }
        return entry.workspace
    }

    /// The ids and workspaces `owner` keeps, oldest first.
    func kept(by owner: UInt64) -> [(id: String, workspace: Workspace)] {
        order.compactMap { id in entries[id].flatMap { $0.owner == owner ? (id, $0.workspace) : nil } }
    }

    /// Removes what `owner` kept: its connection closed.
    func release(_ owner: UInt64) {
        for (id, entry) in entries where entry.owner == owner { drop(id) }
    }

    var count: Int { entries.count }

    private func drop(_ id: String) {
        guard let entry = entries.removeValue(forKey: id) else { return }
        order.removeAll { $0 == id }
        entry.workspace.removeInBackground()
    }
}
