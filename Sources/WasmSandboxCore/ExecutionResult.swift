/// How an execution ended and what it produced.
public struct ExecutionResult: Sendable {
    /// Why the run ended.
    public enum Status: String, Sendable, CaseIterable, Codable {
        /// The guest finished with exit code 0.
        case ok
        /// The guest exited with a non-zero code.
        case exited
        /// The guest trapped (see ``ExecutionResult/trap``).
        case trapped
        /// The wall-clock timeout passed.
        case timedOut = "timed_out"
        /// The fuel budget ran out.
        case outOfFuel = "out_of_fuel"
        /// The guest failed after its memory growth was refused at the limit.
        case memoryLimit = "memory_limit"
        /// The guest wrote more than the stdout or stderr cap, or its workspace cap.
        case outputLimit = "output_limit"
        /// The module or request was rejected before running (see ``ExecutionResult/message``).
        case invalidInput = "invalid_input"
        /// Every thread was running and the wait queue was full.
        case busy
        /// The caller cancelled the run.
        case cancelled
        /// The sandbox itself failed.
        case internalError = "internal_error"
    }

    public var status: Status
    /// The guest's exit code, when it finished or exited.
    public var exitCode: Int32? = nil
    /// The trap's kind (such as `stack_overflow`), when it trapped.
    public var trap: String? = nil
    /// A human-readable explanation for anything but a clean exit.
    public var message: String? = nil
    public var stdout: [UInt8] = []
    public var stderr: [UInt8] = []
    public var stdoutTruncated = false
    public var stderrTruncated = false
    /// Wall time of the run itself (instantiation and execution).
    public var duration: Duration = .zero
    /// Fuel burnt by the guest; `nil` unless the run had a fuel budget (only metered runs
    /// count fuel).
    public var fuelConsumed: UInt64? = nil
    /// The largest size the guest's linear memory reached.
    public var memoryPeakBytes = 0
    /// True when the compiled module came from a cache (memory or disk).
    public var cacheHit = false
    /// Time spent compiling the module for this request (not counted in ``duration``);
    /// `nil` when it came from a cache.
    public var compileDuration: Duration? = nil
    /// The files in the run's workspace after it ended, when it had one.
    public var files: [WorkspaceFile]? = nil
    /// A session call's final expression as the language's REPL shows it (`repr` in Python,
    /// Node's inspection in JavaScript); `nil` when the code did not end in an expression, or
    /// it was `None`/`undefined`, and for stateless runs. Capped at the call's stdout cap.
    public var value: String? = nil
    /// True when ``value`` was cut at the cap.
    public var valueTruncated = false
    /// For a session call: whether this call ended the session (see ``SandboxSession``);
    /// `nil` for stateless runs.
    public var sessionEnded: Bool? = nil

    public init(status: Status, message: String? = nil) {
        self.status = status
        self.message = message
    }

    /// stdout decoded as UTF-8, invalid sequences replaced.
    public var stdoutText: String { String(decoding: stdout, as: UTF8.self) }
    /// stderr decoded as UTF-8, invalid sequences replaced.
    public var stderrText: String { String(decoding: stderr, as: UTF8.self) }
}

extension ExecutionResult: Encodable {
    package enum CodingKeys: String, CodingKey {
        case status, trap, message, stdout, stderr
        case exitCode = "exit_code"
        case stdoutTruncated = "stdout_truncated"
        case stderrTruncated = "stderr_truncated"
        case durationMs = "duration_ms"
        case fuelConsumed = "fuel_consumed"
        case memoryPeakBytes = "memory_peak_bytes"
        case cacheHit = "cache_hit"
        case compileMs = "compile_ms"
        case files, value
        case valueTruncated = "value_truncated"
        case sessionEnded = "session_ended"
    }

    /// The JSON shape shared by the CLI and the server: snake_case keys, text output.
    public func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(status, forKey: .status)
        try container.encode(exitCode, forKey: .exitCode)
        try container.encode(trap, forKey: .trap)
        try container.encode(message, forKey: .message)
        try container.encode(stdoutText, forKey: .stdout)
        try container.encode(stderrText, forKey: .stderr)
        try container.encode(stdoutTruncated, forKey: .stdoutTruncated)
        try container.encode(stderrTruncated, forKey: .stderrTruncated)
        try container.encode(Double(duration.nanoseconds) / 1e6, forKey: .durationMs)
        try container.encode(fuelConsumed, forKey: .fuelConsumed)
        try container.encode(memoryPeakBytes, forKey: .memoryPeakBytes)
        try container.encode(cacheHit, forKey: .cacheHit)
        try container.encode(compileDuration.map { Double($0.nanoseconds) / 1e6 }, forKey: .compileMs)
        try container.encodeIfPresent(files, forKey: .files)
        if let sessionEnded {
            try container.encode(value, forKey: .value)
            try container.encode(valueTruncated, forKey: .valueTruncated)
            try container.encode(sessionEnded, forKey: .sessionEnded)
        }
    }
}
