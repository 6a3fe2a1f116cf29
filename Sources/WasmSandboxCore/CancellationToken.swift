import Synchronization

/// Links a caller's cancellation to a run that may not have started yet: a cancel that
/// comes first stops the run as soon as it starts.
package final class CancellationToken: Sendable {
    private let state = Mutex<(control: RunControl?, cancelled: Bool)>((nil, false))

    package init() {}

    /// Called when the run starts.
    package func attach(_ control: RunControl) {
        let cancelled = state.withLock { state in
            state.control = control
            return state.cancelled
        }
        if cancelled { control.stop(.cancelled) }
    }

    /// Whether the caller cancelled.
    package var isCancelled: Bool { state.withLock { $0.cancelled } }

    package func cancel() {
        let control = state.withLock { state in
            state.cancelled = true
            return state.control
        }
        control?.stop(.cancelled)
    }
}
