import MCP
import WasmSandbox

/// What an `execute_code` call will run: its arguments under the server's maxima, the code
/// checked against the size limit (and for wasm decoded from base64), the limits clamped.
struct ExecuteCodePlan {
    var language: Language
    var input: ExecutionInput
    var stdin: [UInt8]
    var arguments: [String]
    var environment: [String: String]
    var files: [String: [UInt8]]
    var limits: ExecutionLimits
    /// The client's name for the session to run in, if any.
    var sessionID: String?
    /// The limits that applied, as reported back, and the names of those that were clamped.
    var applied: [String: Value]
    var clamped: [String]

    /// Decodes tool arguments and applies the server's maxima; every problem is an
    /// `invalidParams` error naming the argument.
    init(_ raw: [String: Value]?, configuration: MCPServerConfiguration) throws(MCPError) {
        try self.init(ExecuteCodeArguments(raw), configuration: configuration)
    }

    init(_ arguments: ExecuteCodeArguments, configuration: MCPServerConfiguration) throws(MCPError) {
        language = arguments.language
        let limit = configuration.maxCodeBytes
        let code: [UInt8]
        if arguments.language == .wasm {
            // Measured before decoding, so that an oversized module is never decoded.
            guard StrictBase64.decodedLength(arguments.code) <= limit else {
                throw MCPError.invalidParams("'code' encodes more than the server's limit of \(limit) bytes")
            }
            guard !arguments.code.isEmpty else {
                throw MCPError.invalidParams("'code' is empty: send the wasm module base64-encoded")
            }
            guard let bytes = StrictBase64.decode(arguments.code) else {
                throw MCPError.invalidParams("'code' is not valid base64 (wasm modules are sent base64-encoded)")
            }
            code = bytes
        } else {
            code = Array(arguments.code.utf8)
        }
        guard code.count <= limit else {
            throw MCPError.invalidParams("'code' is \(code.count) bytes, above the server's limit of \(limit) bytes")
        }
        do { input = try arguments.language.input(code) } catch {
            throw MCPError.invalidParams("'code': \(error.message)")
        }
        stdin = arguments.stdin
        self.arguments = arguments.arguments
        environment = arguments.environment
        files = arguments.files

        var clamped: [String] = []
        func clamp(_ field: ExecuteCodeField, _ asked: Int?, default fallback: Int, maximum: Int) -> Int {
            guard let asked else { return fallback }
            guard asked <= maximum else {
                clamped.append(field.name)
                return maximum
            }
            return asked
        }
        let timeout = clamp(
            .timeoutMs, arguments.timeoutMs, default: configuration.defaultTimeoutMs,
            maximum: configuration.maxTimeoutMs)
        let memory = clamp(
            .memoryMb, arguments.memoryMb, default: configuration.defaultMemoryMb, maximum: configuration.maxMemoryMb)
        let fuel = arguments.fuel.map {
            clamp(
                .fuel, $0, default: 0,
                maximum: configuration.maxFuel.map { Int(clamping: $0) } ?? LimitBounds.fuel.upperBound)
        }
        // The configuration's own ranges (checked by `validate()`) keep these shifts far from overflow.
        limits = ExecutionLimits(
            timeout: .milliseconds(timeout), fuel: fuel.map(UInt64.init), memoryBytes: memory << 20,
            stdoutBytes: configuration.maxOutputKb << 10, stderrBytes: configuration.maxOutputKb << 10)
        applied = [
            ExecuteCodeField.timeoutMs.name: .int(timeout), ExecuteCodeField.memoryMb.name: .int(memory),
            ExecuteCodeField.fuel.name: fuel.map { .int($0) } ?? .null,
            "max_output_kb": .int(configuration.maxOutputKb),
        ]
        self.clamped = clamped
        sessionID = arguments.sessionID
    }

    /// Cuts the run's timeout to `limit` (what the client's run-time quota has left), saying
    /// so as for a timeout clamped to the server's maximum.
    mutating func clampTimeout(to limit: Duration) {
        guard limit < limits.timeout else { return }
        limits.timeout = limit
        applied[ExecuteCodeField.timeoutMs.name] = .int(max(1, Int(limit.millisecondsValue)))
        if !clamped.contains(ExecuteCodeField.timeoutMs.name) { clamped.append(ExecuteCodeField.timeoutMs.name) }
    }
}
