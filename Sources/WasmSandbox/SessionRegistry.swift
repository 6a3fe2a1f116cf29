import Dispatch
import Foundation
import Synchronization

/// The sandbox's open sessions, held weakly (a session released by its owner closes itself),
/// with the caps of ``SessionSettings`` and a timer that closes idle ones.
final class SessionRegistry: Sendable {
    private struct Entry {
        weak var session: SandboxSession?
    }

    private let settings: SessionSettings
    private let metrics: SessionMetrics
    private let entries = Mutex<[String: Entry]>([:])
    /// Set up in `init` and only cancelled after: safe to share.
    private nonisolated(unsafe) let timer: DispatchSourceTimer

    init(settings: SessionSettings, metrics: SessionMetrics) {
        self.settings = settings
        self.metrics = metrics
        timer = DispatchSource.makeTimerSource(queue: .global())
        // Often enough that a session outlives its idle timeout by at most a quarter of it.
        let interval = max(min(settings.idleTimeout / 4, .seconds(30)), .milliseconds(10))
        timer.schedule(deadline: .now() + interval.timeInterval, repeating: interval.timeInterval)
        timer.setEventHandler { [weak self] in self?.expireIdle() }
        timer.resume()
    }

    deinit { timer.cancel() }

    /// The open sessions.
    var sessions: [SandboxSession] { entries.withLock { $0.values.compactMap(\.session) } }

    /// Makes room for a session that starts with `memoryBytes`, closing the least recently
    /// used idle sessions as needed.
    ///
    /// - Throws: ``SandboxError`` (`busy`) when only running sessions are left to close.
    func makeRoom(memoryBytes: Int) throws(SandboxError) {
        guard settings.maxSessions > 0 else { throw SandboxError("sessions are turned off: the session cap is 0") }
        guard memoryBytes <= settings.maxTotalMemoryBytes else {
            throw SandboxError(
                "a session starts with \(memoryBytes) bytes of memory, above the sandbox's \(settings.maxTotalMemoryBytes)-byte cap for all sessions"
            )
        }
        while true {
            let open = sessions
            let used = open.reduce(0) { $0 + $1.memoryBytes }
            guard open.count >= settings.maxSessions || used + memoryBytes > settings.maxTotalMemoryBytes else {
                return
            }
            let idle = open.compactMap { session in session.idleSince.map { (session, $0) } }
            guard let (oldest, _) = idle.min(by: { $0.1 < $1.1 }) else {
                throw SandboxError(
                    "all \(open.count) open sessions are running calls (caps: \(settings.maxSessions) sessions, \(settings.maxTotalMemoryBytes) bytes of memory); try again later",
                    kind: .busy)
            }
            oldest.close(.evicted)
        }
    }

    func add(_ session: SandboxSession) {
        entries.withLock { $0[session.id] = Entry(session: session) }
        metrics.opened()
    }

    func remove(_ session: SandboxSession, reason: SandboxSession.CloseReason) {
        let removed = entries.withLock { $0.removeValue(forKey: session.id) != nil }
        if removed { metrics.closed(reason) }
    }

    /// Forgets a session released without being closed (its deinit frees it).
    func released(id: String) {
        let removed = entries.withLock { entries -> Bool in
            guard let entry = entries[id], entry.session == nil else { return false }
            entries.removeValue(forKey: id)
            return true
        }
        if removed { metrics.closed(.closed) }
    }

    func session(id: String) -> SandboxSession? { entries.withLock { $0[id]?.session } }

    /// Closes the sessions idle for longer than the idle timeout, and forgets released ones.
    func expireIdle() {
        let now = ContinuousClock.now
        for session in sessions {
            if let since = session.idleSince, now - since > settings.idleTimeout { session.close(.expired) }
        }
        let gone = entries.withLock { entries in entries.filter { $0.value.session == nil }.map(\.key) }
        for id in gone { released(id: id) }
    }

    func closeAll() {
        for session in sessions { session.close(.closed) }
    }
}

extension Duration {
    /// The duration for Dispatch.
    var timeInterval: DispatchTimeInterval {
        .nanoseconds(Int(clamping: nanoseconds))
    }
}
