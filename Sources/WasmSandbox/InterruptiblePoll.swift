import Wasmtime

/// A replacement for WASI's `poll_oneoff` that sleeps interruptibly.
///
/// Epoch interruption cannot stop a guest blocked inside a host call, and Wasmtime's own
/// `poll_oneoff` blocks the thread for the whole requested sleep. This version waits on the
/// run's ``RunControl``: a sleep past the deadline ends at the deadline, and a stop request
/// ends it at once, with a trap that the sandbox reports as the stop's reason.
///
/// Clock subscriptions sleep; fd subscriptions (stdio bytes and regular files, which never
/// block) are reported ready at once.
enum InterruptiblePoll {
    // WASI preview 1 layouts: a subscription is 48 bytes, an event 32.
    static let subscriptionSize = 48
    static let eventSize = 32
    private static let eventClock: UInt8 = 0
    private static let abstimeFlag: UInt16 = 1
    private static let realtimeClock: UInt32 = 0

    /// Defines `wasi_snapshot_preview1.poll_oneoff` on a linker that already has WASI.
    static func define(on linker: inout LinkerBuilder<RunState>) throws(WasmtimeError) {
        try linker.shadowWASI("poll_oneoff") { caller, run, arguments in
            try poll(
                caller: caller, control: run.control, input: try arguments.integer(at: 0),
                output: try arguments.integer(at: 1), count: try arguments.integer(at: 2),
                eventsOut: try arguments.integer(at: 3))
        }
    }

    private struct Subscription {
        var userdata: UInt64
        var tag: UInt8
        /// For clocks: when it fires, on ``MonotonicClock``.
        var wake: UInt64
    }

    private static func poll(
        caller: Caller<RunState>, control: RunControl, input: Int, output: Int, count: Int, eventsOut: Int
    ) throws -> Int32 {
        // The subscriptions are copied out of guest memory: a bounded count bounds the copy.
        guard count > 0, count <= HostCallBounds.maxSubscriptions else { return WASIErrno.invalid }
        let now = MonotonicClock.now()
        // Read the subscriptions; memory is only valid inside withMemory, never across the sleep.
        let subscriptions: [Subscription]? = try caller.withMemory { memory in
            guard input + count * subscriptionSize <= memory.count else { return nil }
            return (0..<count).map { index in
                let base = input + index * subscriptionSize
                let tag = memory.load(fromByteOffset: base + 8, as: UInt8.self)
                var wake = now
                if tag == eventClock {
                    let clock = memory.loadUnaligned(fromByteOffset: base + 16, as: UInt32.self)
                    let timeout = memory.loadUnaligned(fromByteOffset: base + 24, as: UInt64.self)
                    let flags = memory.loadUnaligned(fromByteOffset: base + 40, as: UInt16.self)
                    wake = wakeTime(
                        clock: clock, timeout: timeout, absolute: flags & abstimeFlag != 0,
                        now: now, runStart: control.started)
                }
                return Subscription(
                    userdata: memory.loadUnaligned(fromByteOffset: base, as: UInt64.self), tag: tag, wake: wake)
            }
        }
        guard let subscriptions else { return WASIErrno.fault }

        let hasReadyFd = subscriptions.contains { $0.tag != eventClock }
        if !hasReadyFd, let earliest = subscriptions.map(\.wake).min(), earliest > now {
            guard control.sleep(until: earliest) else {
                throw SandboxError("the run was stopped while sleeping")
            }
        }
        let woke = MonotonicClock.now()
        let fired = subscriptions.filter { hasReadyFd ? $0.tag != eventClock : $0.wake <= woke }

        return try caller.withMemory { memory in
            guard output + fired.count * eventSize <= memory.count, eventsOut + 4 <= memory.count else {
                return WASIErrno.fault
            }
            for (index, subscription) in fired.enumerated() {
                let base = output + index * eventSize
                memory.baseAddress!.advanced(by: base).initializeMemory(as: UInt8.self, repeating: 0, count: eventSize)
                memory.storeBytes(of: subscription.userdata, toByteOffset: base, as: UInt64.self)
                memory.storeBytes(of: subscription.tag, toByteOffset: base + 10, as: UInt8.self)
            }
            memory.storeBytes(of: UInt32(fired.count), toByteOffset: eventsOut, as: UInt32.self)
            return WASIErrno.success
        }
    }

    /// When a clock subscription fires. Absolute times on the realtime clock are converted
    /// from wall time; other clocks count from the start of the run, as the guest sees them.
    private static func wakeTime(clock: UInt32, timeout: UInt64, absolute: Bool, now: UInt64, runStart: UInt64)
        -> UInt64
    {
        guard absolute else { return now.addingReportingOverflow(timeout).overflow ? .max : now + timeout }
        if clock == realtimeClock {
            let wall = MonotonicClock.realtime()
            return timeout <= wall
                ? now : now.addingReportingOverflow(timeout - wall).overflow ? .max : now + (timeout - wall)
        }
        return runStart.addingReportingOverflow(timeout).overflow ? .max : runStart + timeout
    }
}
