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
        /// The same, by owner.
        var reservedBy: [String: Holding] = [:]

        mutating func unreserve(_ reservation: Reservation) {
            reservedSessions -= 1
            reservedBytes -= reservation.memoryBytes
            reservedBy[reservation.owner]?.sessions -= 1
            reservedBy[reservation.owner]?.bytes -= reservation.memoryBytes
            if reservedBy[reservation.owner]?.sessions == 0 { reservedBy[reservation.owner] = nil }
        }
    }

    /// Sessions and their memory, held by one owner: more sessions is more, then more memory.
    private struct Holding: Comparable {
        var sessions = 0
        var bytes = 0

        static func < (first: Holding, second: Holding) -> Bool {
            (first.sessions, first.bytes) < (second.sessions, second.bytes)
        }
    }

    /// Room held for one session being opened; give it to ``add(_:using:)`` or ``release(_:)``.
    struct Reservation {
        let memoryBytes: Int
        let owner: String
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

    /// Reserves room for a session of `owner` that starts with `memoryBytes`, closing idle
    /// sessions as needed: the least recently used of the owner holding the most when that
    /// is more than `owner` holds, or else of `owner`, so that no owner pushes out the
    /// sessions of one holding less. The check and the reservation are one step under the
    /// lock, so sessions opened at the same time cannot pass the caps together.
    ///
    /// - Throws: ``SandboxError`` (`busy`) when no such idle session is left.
    func reserve(memoryBytes: Int, owner: String? = nil) throws(SandboxError) -> Reservation {
        let owner = owner ?? ""
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
                    state.reservedBy[owner, default: Holding()].sessions += 1
                    state.reservedBy[owner, default: Holding()].bytes += memoryBytes
                    return nil
                }
                var held = state.reservedBy
                for session in open {
                    held[session.owner ?? "", default: Holding()].sessions += 1
                    held[session.owner ?? "", default: Holding()].bytes += session.memoryBytes
                }
                let idle = open.compactMap { session in
                    session.idleSince.map { (item: session, owner: session.owner ?? "", lastUsed: $0) }
                }
                guard let victim = FairEviction.victim(for: owner, holdings: held, idle: idle) else {
                    throw SandboxError(
                        "all \(count) sessions are running calls, opening, or held by owners holding less than this one (caps: \(settings.maxSessions) sessions, \(settings.maxTotalMemoryBytes) bytes of memory); try again later",
                        kind: .busy)
                }
                return victim
            }
            guard let victim else { return Reservation(memoryBytes: memoryBytes, owner: owner) }
            victim.close(.evicted)
        }
    }

    /// Gives up a reservation whose session did not open.
    func release(_ reservation: Reservation) {
        state.withLock { $0.unreserve(reservation) }
    }

    /// Registers an opened session in the room its reservation held.
    func add(_ session: SandboxSession, using reservation: Reservation) {
        state.withLock {
            $0.entries[session.id] = Entry(session: session)
            $0.unreserve(reservation)
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
