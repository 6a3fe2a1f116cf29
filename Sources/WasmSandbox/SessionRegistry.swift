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
    private let state = Mutex(State())
    /// Set up in `init` and only cancelled after: safe to share.
    private nonisolated(unsafe) let timer: DispatchSourceTimer

    private struct State {
        var entries: [String: Entry] = [:]
        /// Room taken by sessions being opened, counted until they are added or given up.
        var reservedSessions = 0
        var reservedBytes = 0
    }

    /// Room held for one session being opened; give it to ``add(_:using:)`` or ``release(_:)``.
    struct Reservation {
        let memoryBytes: Int
    }

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
    var sessions: [SandboxSession] { state.withLock { $0.entries.values.compactMap(\.session) } }

    /// Reserves room for a session that starts with `memoryBytes`, closing the least recently
    /// used idle sessions as needed. The check and the reservation are one step under the
    /// lock, so sessions opened at the same time cannot pass the caps together.
    ///
    /// - Throws: ``SandboxError`` (`busy`) when only running or opening sessions are left.
    func reserve(memoryBytes: Int) throws(SandboxError) -> Reservation {
        guard settings.maxSessions > 0 else { throw SandboxError("sessions are turned off: the session cap is 0") }
        guard memoryBytes <= settings.maxTotalMemoryBytes else {
            throw SandboxError(
                "a session starts with \(memoryBytes) bytes of memory, above the sandbox's \(settings.maxTotalMemoryBytes)-byte cap for all sessions"
            )
        }
        while true {
            let victim = try state.withLock { state throws(SandboxError) -> SandboxSession? in
                let open = state.entries.values.compactMap(\.session).filter(\.isOpen)
                let count = open.count + state.reservedSessions
                let used = open.reduce(state.reservedBytes) { $0 + $1.memoryBytes }
                if count < settings.maxSessions && used + memoryBytes <= settings.maxTotalMemoryBytes {
                    state.reservedSessions += 1
                    state.reservedBytes += memoryBytes
                    return nil
                }
                let idle = open.compactMap { session in session.idleSince.map { (session, $0) } }
                guard let (oldest, _) = idle.min(by: { $0.1 < $1.1 }) else {
                    throw SandboxError(
                        "all \(count) sessions are running calls or opening (caps: \(settings.maxSessions) sessions, \(settings.maxTotalMemoryBytes) bytes of memory); try again later",
                        kind: .busy)
                }
                return oldest
            }
            guard let victim else { return Reservation(memoryBytes: memoryBytes) }
            victim.close(.evicted)
        }
    }

    /// Gives up a reservation whose session did not open.
    func release(_ reservation: Reservation) {
        state.withLock {
            $0.reservedSessions -= 1
            $0.reservedBytes -= reservation.memoryBytes
        }
    }

    /// Registers an opened session in the room its reservation held.
    func add(_ session: SandboxSession, using reservation: Reservation) {
        state.withLock {
            $0.entries[session.id] = Entry(session: session)
            $0.reservedSessions -= 1
            $0.reservedBytes -= reservation.memoryBytes
        }
        metrics.opened()
    }

    func remove(_ session: SandboxSession, reason: SandboxSession.CloseReason) {
        let removed = state.withLock { $0.entries.removeValue(forKey: session.id) != nil }
        if removed { metrics.closed(reason) }
    }

    /// Forgets a session released without being closed (its deinit frees it).
    func released(id: String) {
        let removed = state.withLock { state -> Bool in
            guard let entry = state.entries[id], entry.session == nil else { return false }
            state.entries.removeValue(forKey: id)
            return true
        }
        if removed { metrics.closed(.closed) }
    }

    func session(id: String) -> SandboxSession? { state.withLock { $0.entries[id]?.session } }

    /// Closes the sessions idle for longer than the idle timeout, and forgets released ones.
    func expireIdle() {
        let now = ContinuousClock.now
        for session in sessions {
            if let since = session.idleSince, now - since > settings.idleTimeout { session.close(.expired) }
        }
        let gone = state.withLock { state in state.entries.filter { $0.value.session == nil }.map(\.key) }
        for id in gone { released(id: id) }
    }
}

extension Duration {
    /// The duration for Dispatch.
    var timeInterval: DispatchTimeInterval {
        .nanoseconds(Int(clamping: nanoseconds))
    }
}
