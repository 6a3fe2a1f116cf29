/// The outcome of running the canary module.
public struct HealthReport: Sendable, Encodable {
    /// True when the canary ran and printed what it should.
    public var healthy: Bool
    /// What was checked or what failed.
    public var message: String
    /// How long the canary run took, in milliseconds.
    public var durationMs: Double
    /// The engine that ran it: `wasmtime` or `wasmkit`.
    public var backend: String

    enum CodingKeys: String, CodingKey {
        case healthy, message, backend
        case durationMs = "duration_ms"
    }
}

extension Sandbox {
    /// The canary: a WASI command that writes "ok" to stdout, exercising compilation, linking,
    /// WASI output and the whole execution path. Also the benchmark's trivial module.
    public static let canaryWAT = """
        (module
          (import "wasi_snapshot_preview1" "fd_write" (func $fd_write (param i32 i32 i32 i32) (result i32)))
          (memory (export "memory") 1)
          (data (i32.const 16) "ok\\n")
          (func (export "_start")
            (i32.store (i32.const 0) (i32.const 16))
            (i32.store (i32.const 4) (i32.const 3))
            (drop (call $fd_write (i32.const 1) (i32.const 0) (i32.const 1) (i32.const 8)))))
        """

    /// Runs the canary module through the normal execution path and checks its output.
    public func health() async -> HealthReport {
        var request = ExecutionRequest(.wat(Self.canaryWAT))
        request.limits = ExecutionLimits(timeout: .seconds(2), memoryBytes: 1 << 20)
        let result = await execute(request)
        let healthy = result.status == .ok && result.stdoutText == "ok\n"
        return HealthReport(
            healthy: healthy,
            message: healthy
                ? "canary module ran and printed ok"
                : "canary failed: status \(result.status.rawValue), \(result.message ?? "unexpected output '\(result.stdoutText)'")",
            durationMs: Double(result.duration.nanoseconds) / 1e6, backend: configuration.backend.rawValue)
    }
}
