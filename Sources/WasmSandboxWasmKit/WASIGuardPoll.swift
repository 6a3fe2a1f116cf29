import WasmKit

/// `poll_oneoff` for ``GuardedWASI``: WasmKit's sleeps the host thread for the whole
/// timeout, past any deadline; this one sleeps through `hooks.sleep`, which a stop ends.
///
/// Clock subscriptions sleep until the earliest fires. Descriptor subscriptions are ready at
/// once (stdin is in memory, regular files never block, the guard has no sockets): when
/// any is present, the call returns their events without sleeping, as the Wasmtime
/// backend's does.
extension WASIGuardCall {
    // WASI preview 1 layouts.
    private static let subscriptionSize = 48
    private static let eventSize = 32
    private static let clockTag: UInt8 = 0
    private static let readTag: UInt8 = 1
    private static let writeTag: UInt8 = 2

    private struct Subscription {
        var userdata: UInt64
        var tag: UInt8
        /// For a clock: when it fires, on the hooks' monotonic clock.
        var wake: UInt64 = 0
        var errno: UInt16 = 0
        var readable: UInt64 = 0
        var hangup = false
    }

    /// `poll_oneoff(subscriptions, events, count, result)`.
    func poll() throws -> UInt32 {
        let memory = try memory()
        let (input, output, count, result) = (u32(0), u32(1), u32(2), u32(3))
        // Subscriptions are copied out of guest memory: a bounded count bounds the copy.
        guard count > 0, count <= WASIGuardLimits.maxSubscriptions else { throw WASIGuardErrno.invalid }
        try memory.check(input, count: Int(count) * Self.subscriptionSize)
        try memory.check(output, count: Int(count) * Self.eventSize)
        try memory.check(result, count: 4)

        let now = hooks.now()
        var subscriptions: [Subscription] = []
        subscriptions.reserveCapacity(Int(count))
        for index in 0..<Int(count) {
            let base = Int(input) + index * Self.subscriptionSize
            var subscription = Subscription(userdata: memory.load64(base), tag: memory.load8(base + 8))
            switch subscription.tag {
            case Self.clockTag:
                let clock = memory.load32(base + 16)
                let flags = memory.load16(base + 40)
                // Clocks 0-3 and only the `subscription_clock_abstime` flag exist.
                guard clock <= 3, flags & ~1 == 0 else { throw WASIGuardErrno.invalid }
                subscription.wake = wakeTime(
                    clock: clock, timeout: memory.load64(base + 24), absolute: flags == 1, now: now)
            case Self.readTag, Self.writeTag:
                describeReadiness(of: memory.load32(base + 16), in: &subscription)
            default:
                throw WASIGuardErrno.invalid
            }
            subscriptions.append(subscription)
        }

        var fired = subscriptions.filter { $0.tag != Self.clockTag }
        if fired.isEmpty {
            let earliest = subscriptions.map(\.wake).min() ?? now
            var woke = now
            if earliest > now {
                guard hooks.sleep(earliest) else { throw WASIGuardStop() }
                // A sleep that returns true has reached `earliest`: at least that clock fires,
                // whatever the two clocks' readings say.
                woke = max(hooks.now(), earliest)
            }
            fired = subscriptions.filter { $0.wake <= woke }
        }

        for (index, subscription) in fired.enumerated() {
            let base = Int(output) + index * Self.eventSize
            memory.zero(base, count: Self.eventSize)
            memory.store64(subscription.userdata, at: base)
            memory.store16(subscription.errno, at: base + 8)
            memory.store8(subscription.tag, at: base + 10)
            if subscription.tag != Self.clockTag {
                memory.store64(subscription.readable, at: base + 16)
                memory.store16(subscription.hangup ? 1 : 0, at: base + 24)
            }
        }
        memory.store32(UInt32(fired.count), at: Int(result))
        return 0
    }

    /// When a clock subscription fires. Relative timeouts count from now; absolute ones on
    /// the realtime clock are converted from wall time; on the others they count from the
    /// run's start, the zero of the guest's monotonic clock.
    private func wakeTime(clock: UInt32, timeout: UInt64, absolute: Bool, now: UInt64) -> UInt64 {
        func adding(_ base: UInt64, _ delay: UInt64) -> UInt64 {
            let (sum, overflow) = base.addingReportingOverflow(delay)
            return overflow ? .max : sum
        }
        guard absolute else { return adding(now, timeout) }
        if clock == 0 {
            let wall = hooks.wallNow()
            return timeout <= wall ? now : adding(now, timeout - wall)
        }
        return adding(hooks.started, timeout)
    }

    /// A descriptor subscription's event: stdio answered by the guard (stdin's unread bytes,
    /// hangup once it is all read); other descriptors ready, as WasmKit's table cannot be
    /// asked without writing into the guest.
    private func describeReadiness(of fd: UInt32, in subscription: inout Subscription) {
        guard fd < 3 else { return }
        let reading = subscription.tag == Self.readTag
        guard !run.stdioClosed[Int(fd)], reading == (fd == 0) else {
            subscription.errno = UInt16(WASIGuardErrno.badDescriptor.code)
            return
        }
        guard reading else { return }
        let unread = hooks.stdin.count - run.stdinOffset
        subscription.readable = UInt64(unread)
        subscription.hangup = unread == 0
    }
}
