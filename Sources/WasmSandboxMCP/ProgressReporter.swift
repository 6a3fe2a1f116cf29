import MCP
import WasmSandbox

/// Sends `notifications/progress` about once a second while a call runs, for a client that
/// gave its request a `progressToken`: how long it has run and how much output it has made.
struct ProgressReporter: Sendable {
    let token: ProgressToken
    let send: @Sendable (Message<ProgressNotification>) async -> Void
    var interval: Duration = .seconds(1)

    /// Runs `work`, reporting `progress` until it returns.
    func reporting<T: Sendable>(_ progress: ExecutionProgress, while work: @Sendable () async -> T) async -> T {
        let ticker = Task { [token, send, interval] in
            var ticks = 0
            while true {
                do { try await Task.sleep(for: interval) } catch { return }
                if Task.isCancelled { return }
                ticks += 1
                let milliseconds =
                    interval.components.seconds * 1000 + interval.components.attoseconds / 1_000_000_000_000_000
                let seconds = Double(ticks) * Double(milliseconds) / 1000
                await send(
                    ProgressNotification.message(
                        .init(
                            progressToken: token, progress: seconds,
                            message:
                                "running for \(seconds) s; \(progress.stdoutBytes) bytes of stdout and \(progress.stderrBytes) of stderr so far"
                        )))
            }
        }
        let result = await work()
        // Waited for, so that no notification follows the result.
        ticker.cancel()
        await ticker.value
        return result
    }
}
