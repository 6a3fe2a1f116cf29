// swift-tools-version: 6.0
import PackageDescription

// `WASM_SANDBOX_FUZZ=1` (set by scripts/fuzz.sh, with its own scratch path) instruments our
// own targets for libFuzzer and adds the fuzz executables (`Fuzz/`), linked with libFuzzer.
// The dependencies stay uninstrumented: coverage of NIO or swift-crypto would only dilute ours.
// Without it no unsafe flag is set, so the package stays usable as a dependency.
let fuzzing = Context.environment["WASM_SANDBOX_FUZZ"] == "1"
let fuzzed: [SwiftSetting] = fuzzing ? [.unsafeFlags(["-sanitize=fuzzer"])] : []

let package = Package(
    name: "wasm-sandbox",
    platforms: [.macOS(.v15)],
    products: [
        .library(name: "WasmSandbox", targets: ["WasmSandbox"]),
        // The WasmKit backend alone: no libwasmtime, no setup script.
        .library(name: "WasmSandboxWasmKit", targets: ["WasmSandboxWasmKit"]),
        .library(name: "Wasmtime", targets: ["Wasmtime"]),
        .library(name: "WasmSandboxMCP", targets: ["WasmSandboxMCP"]),
        .executable(name: "wasm-sandbox", targets: ["WasmSandboxCLI"]),
        .executable(name: "wasm-sandbox-compile", targets: ["WasmSandboxCompiler"]),
        .executable(name: "wasm-sandbox-bench", targets: ["WasmSandboxBenchmarks"]),
        .executable(name: "wasmkit-example", targets: ["WasmKitExample"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.5.0"),
        .package(url: "https://github.com/apple/swift-metrics", from: "2.5.0"),
        .package(url: "https://github.com/apple/swift-crypto", from: "3.12.0"),
        .package(url: "https://github.com/apple/swift-log", from: "1.16.0"),
        .package(url: "https://github.com/modelcontextprotocol/swift-sdk", .upToNextMinor(from: "0.12.1")),
        .package(url: "https://github.com/hummingbird-project/hummingbird", from: "2.0.0"),
        .package(url: "https://github.com/swift-server/swift-prometheus", from: "2.0.0"),
        .package(url: "https://github.com/swift-server/swift-service-lifecycle", from: "2.0.0"),
        .package(url: "https://github.com/apple/swift-system", from: "1.0.0"),
        // Pinned exactly: the memory cap uses its `@_spi(Fuzzing)` resource limiter.
        .package(url: "https://github.com/swiftwasm/WasmKit", exact: "0.4.2"),
    ],
    targets: [
        // Our own declarations of the Wasmtime C API; libwasmtime comes from scripts/setup.sh.
        .systemLibrary(name: "CWasmtime", pkgConfig: "wasmtime"),
        .target(name: "Wasmtime", dependencies: ["CWasmtime"], swiftSettings: fuzzed),
        // Compiles one untrusted module in a process of its own, under resource limits.
        .executableTarget(name: "WasmSandboxCompiler", dependencies: ["Wasmtime"]),
        // Requests, results, limits, workspaces and scheduling: everything but an engine.
        .target(
            name: "WasmSandboxCore",
            dependencies: [
                .product(name: "Metrics", package: "swift-metrics"),
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: fuzzed
        ),
        // The pure-Swift interpreter backend, for hosts without a JIT and builds without setup.
        .target(
            name: "WasmSandboxWasmKit",
            dependencies: [
                "WasmSandboxCore",
                .product(name: "WasmKit", package: "WasmKit"),
                .product(name: "WasmKitWASI", package: "WasmKit"),
                .product(name: "WASI", package: "WasmKit"),
                .product(name: "WasmParser", package: "WasmKit"),
                .product(name: "WAT", package: "WasmKit"),
                .product(name: "Crypto", package: "swift-crypto"),
            ],
            swiftSettings: fuzzed
        ),
        .target(
            name: "WasmSandbox",
            dependencies: [
                "WasmSandboxCore",
                "WasmSandboxWasmKit",
                "Wasmtime",
                .product(name: "Metrics", package: "swift-metrics"),
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: fuzzed
        ),
        .target(
            name: "WasmSandboxMCP",
            dependencies: [
                "WasmSandbox",
                .product(name: "MCP", package: "swift-sdk"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Metrics", package: "swift-metrics"),
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "Prometheus", package: "swift-prometheus"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "UnixSignals", package: "swift-service-lifecycle"),
            ],
            swiftSettings: fuzzed
        ),
        // The fuzz targets, shared by the libFuzzer executables and the corpus replay test.
        .target(
            name: "WasmSandboxFuzzing",
            dependencies: [
                "WasmSandbox", "WasmSandboxMCP", .product(name: "MCP", package: "swift-sdk"),
                .product(name: "Crypto", package: "swift-crypto"),
            ],
            swiftSettings: fuzzed
        ),
        // The commands, as a library so that tests run them in-process; the executable only calls it.
        .target(
            name: "WasmSandboxCLICommands",
            dependencies: [
                "WasmSandbox",
                "WasmSandboxMCP",
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Metrics", package: "swift-metrics"),
                .product(name: "Prometheus", package: "swift-prometheus"),
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ]
        ),
        .executableTarget(name: "WasmSandboxCLI", dependencies: ["WasmSandboxCLICommands"]),
        // A user of the WasmKit product alone, to check that it links no libwasmtime.
        .executableTarget(name: "WasmKitExample", dependencies: ["WasmSandboxCore", "WasmSandboxWasmKit"]),
        // Benchmarks against the wasmtime CLI and through the MCP SDK's own clients.
        .executableTarget(
            name: "WasmSandboxBenchmarks",
            dependencies: [
                "WasmSandboxWasmKit",
                "WasmSandbox",
                "WasmSandboxMCP",
                "WasmSandboxCLICommands",
                "Wasmtime",
                .product(name: "MCP", package: "swift-sdk"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "SystemPackage", package: "swift-system"),
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ]
        ),
        .testTarget(name: "WasmtimeTests", dependencies: ["Wasmtime", "CWasmtime"]),
        .testTarget(name: "WasmSandboxCLITests", dependencies: ["WasmSandboxCLICommands", "WasmSandbox"]),
        .testTarget(
            name: "WasmSandboxMCPTests",
            dependencies: [
                "WasmSandboxMCP", "WasmSandbox", .product(name: "MCP", package: "swift-sdk"),
                .product(name: "SystemPackage", package: "swift-system"),
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "MetricsTestKit", package: "swift-metrics"),
            ]
        ),
        .testTarget(
            name: "WasmSandboxTests",
            dependencies: [
                "WasmSandbox",
                .product(name: "MetricsTestKit", package: "swift-metrics"),
            ]
        ),
        .testTarget(
            name: "WasmSandboxFuzzingTests",
            dependencies: ["WasmSandboxFuzzing", "WasmSandbox", .product(name: "MCP", package: "swift-sdk")]
        ),
    ]
)

if fuzzing {
    for (name, directory) in [
        ("fuzz-mcp-arguments", "MCPArguments"), ("fuzz-disk-cache", "DiskCache"), ("fuzz-wasi-shadows", "WASIShadows"),
    ] {
        package.targets.append(
            .executableTarget(
                name: name, dependencies: ["WasmSandboxFuzzing"], path: "Fuzz/\(directory)",
                swiftSettings: fuzzed,
                linkerSettings: [.unsafeFlags(["-sanitize=fuzzer"])]))
    }
}
