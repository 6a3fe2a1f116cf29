import Foundation
import MCP
import WasmSandbox
@_spi(Fuzzing) import WasmSandboxMCP

extension FuzzTarget {
    /// `execute_code` argument parsing, fed the input as a JSON object (anything else is
    /// skipped). The parser may refuse anything but must not trap, and what it accepts must
    /// lie within the server's maxima.
    public static let mcpArguments = FuzzTarget(name: "mcp-arguments") { data in
        guard let raw = try? JSONDecoder().decode([String: Value].self, from: Data(data)) else { return nil }
        for configuration in MCPArgumentsFuzzing.configurations {
            guard let limits = try? parseExecuteCodeArguments(raw, configuration: configuration) else { continue }
            if let failure = MCPArgumentsFuzzing.check(limits, raw: raw, configuration: configuration) {
                return failure
            }
        }
        return nil
    }
}

enum MCPArgumentsFuzzing {
    /// The default server, and a small one with a fuel budget, so that clamping is reached
    /// from small numbers too.
    static let configurations: [MCPServerConfiguration] = {
        var small = MCPServerConfiguration()
        small.defaultTimeoutMs = 50
        small.maxTimeoutMs = 100
        small.defaultMemoryMb = 2
        small.maxMemoryMb = 4
        small.maxFuel = 1_000
        small.maxOutputKb = 1
        small.maxCodeBytes = 64
        return [MCPServerConfiguration(), small]
    }()

    static func check(_ limits: ExecutionLimits, raw: [String: Value], configuration: MCPServerConfiguration)
        -> String?
    {
        guard limits.timeout > .zero, limits.timeout <= .milliseconds(configuration.maxTimeoutMs) else {
            return "timeout \(limits.timeout) outside 0 < t <= \(configuration.maxTimeoutMs) ms"
        }
        guard limits.memoryBytes > 0, limits.memoryBytes <= configuration.maxMemoryMb << 20 else {
            return "memory \(limits.memoryBytes) outside 0 < m <= \(configuration.maxMemoryMb) MiB"
        }
        if let fuel = limits.fuel {
            guard raw["fuel"] != nil, fuel > 0, fuel <= configuration.maxFuel ?? .max else {
                return "fuel \(fuel) not asked for or outside 0 < f <= \(configuration.maxFuel ?? .max)"
            }
        }
        guard limits.stdoutBytes == configuration.maxOutputKb << 10,
            limits.stderrBytes == configuration.maxOutputKb << 10
        else { return "output caps \(limits.stdoutBytes)/\(limits.stderrBytes) are not the server's" }
        // A whole number within the bounds is used as given.
        if case .int(let asked)? = raw["timeout_ms"], (1...configuration.maxTimeoutMs).contains(asked),
            limits.timeout != .milliseconds(asked)
        {
            return "timeout_ms \(asked) became \(limits.timeout)"
        }
        if case .int(let asked)? = raw["memory_mb"], (1...configuration.maxMemoryMb).contains(asked),
            limits.memoryBytes != asked << 20
        {
            return "memory_mb \(asked) became \(limits.memoryBytes) bytes"
        }
        return nil
    }
}
