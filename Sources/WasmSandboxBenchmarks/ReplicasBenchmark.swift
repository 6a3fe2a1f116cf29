import ArgumentParser
import Foundation
import WasmSandboxCLICommands

/// Throughput of `execute_code` through HAProxy in front of 1, 2, … replicas started by
/// `deploy/haproxy/run-local.sh`, and the latency HAProxy adds to a call (the same client
/// straight to a replica, in the same run). On a machine with few cores, replicas past the
/// core count cannot add throughput: they share the same cores.
struct ReplicasBenchmark: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "replicas", abstract: "Measure execute_code through HAProxy with 1 to N replicas.")

    @Option(help: "The most replicas to measure (from 1 up).")
    var replicas = 3

    @Option(help: "Calls in each throughput round, spread over the clients.")
    var calls = 2_000

    @Option(help: "Concurrent clients in the throughput rounds, each on a keep-alive connection.")
    var clients = 8

    @Option(help: "The script that starts the replicas and HAProxy.")
    var runLocal = "deploy/haproxy/run-local.sh"

    @Option(help: "The wasm-sandbox executable the replicas run (default: the one beside this benchmark).")
    var cli = siblingExecutable("wasm-sandbox")

    func validate() throws {
        try checkBounds(replicas, "--replicas", 1...16)
        try checkBounds(calls, "--calls", 1...1_000_000)
        try checkBounds(clients, "--clients", 1...256)
    }

    static var hello: [String: Any] { ["language": "javascript", "code": #"console.log("hi")"#] }

    func run() async throws {
        print("wasm-sandbox replicas benchmark: \(calls) calls by \(clients) clients, through HAProxy")
        print("cores: \(ProcessInfo.processInfo.activeProcessorCount)")
        for count in 1...replicas {
            let cluster = try Cluster(script: runLocal, replicas: count, server: cli)
            defer { cluster.stop() }
            let rate = try Self.throughput(port: cluster.port, calls: calls, clients: clients)
            let through = try Self.latency(port: cluster.port, calls: 300)
            let direct = try Self.latency(port: cluster.replicaPorts[0], calls: 300)
            print(
                "\(count) replica(s): \(format(rate, digits: 0)) calls/s; one client: \(through.summary) through HAProxy, "
                    + "median \(format(direct.median)) µs straight to a replica (HAProxy adds \(format(through.median - direct.median)) µs)"
            )
        }
    }

    /// Calls per second with `clients` clients, each on a thread of its own.
    private static func throughput(port: Int, calls: Int, clients: Int) throws -> Double {
        let each = max(calls / clients, 1)
        let failures = FailureCount()
        let group = DispatchGroup()
        let start = DispatchTime.now().uptimeNanoseconds
        for _ in 0..<clients {
            group.enter()
            Thread {
                defer { group.leave() }
                do {
                    let client = try RawHTTPClient(host: "127.0.0.1", port: port)
                    for _ in 0..<each {
                        try MCPMessages.checkRan(try client.request("tools/call", MCPMessages.toolCall(hello)))
                    }
                } catch {
                    failures.add(String(describing: error))
                }
            }.start()
        }
        group.wait()
        let seconds = Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9
        if let failure = failures.first { throw BenchmarkError("a client failed: \(failure)") }
        return Double(each * clients) / seconds
    }

    private static func latency(port: Int, calls: Int) throws -> LatencyStats {
        let client = try RawHTTPClient(host: "127.0.0.1", port: port)
        try MCPMessages.checkRan(try client.request("tools/call", MCPMessages.toolCall(hello)))
        var samples: [UInt64] = []
        for _ in 0..<calls {
            let begin = DispatchTime.now().uptimeNanoseconds
            try MCPMessages.checkRan(try client.request("tools/call", MCPMessages.toolCall(hello)))
            samples.append(DispatchTime.now().uptimeNanoseconds - begin)
        }
        return LatencyStats(nanoseconds: samples)
    }
}

/// The first error of the clients, from any thread.
private final class FailureCount: @unchecked Sendable {
    private let lock = NSLock()
    private var failures: [String] = []
    func add(_ failure: String) { lock.withLock { failures.append(failure) } }
    var first: String? { lock.withLock { failures.first } }
}

/// `run-local.sh N PORT`, until `stop()`.
private final class Cluster {
    let process = Process()
    let port: Int
    private(set) var replicaPorts: [Int] = []

    init(script: String, replicas: Int, server: String) throws {
        port = try Self.freePort()
        // Started through Python, which clears the signal mask first: a process spawned from one
        // of libdispatch's threads inherits its blocked signals, and a shell with SIGTERM
        // blocked never runs its trap, so run-local.sh would never stop its replicas.
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = [
            "python3", "-c",
            "import os, signal, sys; signal.pthread_sigmask(signal.SIG_SETMASK, []); os.execv(sys.argv[1], sys.argv[1:])",
            script, String(replicas), String(port),
        ]
        process.environment = ProcessInfo.processInfo.environment.merging(["WASM_SANDBOX": server]) { $1 }
        let output = Pipe()
        process.standardOutput = output
        try process.run()
        var seen = ""
        while !seen.contains("ready\n") {
            let chunk = output.fileHandleForReading.availableData
            guard !chunk.isEmpty else { throw BenchmarkError("run-local.sh ended: \(seen)") }
            seen += String(decoding: chunk, as: UTF8.self)
        }
        replicaPorts = seen.split(separator: "\n").compactMap { line in
            let words = line.split(separator: " ")
            return words.first == "replica" && words.count == 4 ? Int(words[3]) : nil
        }
        output.fileHandleForReading.readabilityHandler = { _ = $0.availableData }
    }

    func stop() {
        process.terminate()
        process.waitUntilExit()
    }

    private static func freePort() throws -> Int {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        defer { close(fd) }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        let bound = withUnsafeMutablePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { pointer in
                bind(fd, pointer, length) == 0 && getsockname(fd, pointer, &length) == 0
            }
        }
        guard bound else { throw BenchmarkError("no free port") }
        return Int(UInt16(bigEndian: address.sin_port))
    }
}
