/// The checks every backend makes of a request before running it.
extension SandboxConfiguration {
    /// The settings every sandbox needs, whatever its backend.
    package func checkExecutionSettings() throws(SandboxError) {
        guard maxConcurrentExecutions > 0, maxQueuedExecutions >= 0 else {
            throw SandboxError("the sandbox needs at least one execution thread and a non-negative queue")
        }
        guard maxMemoryBytes >= 65536, maxMemoryBytes % 65536 == 0 else {
            throw SandboxError("the maximum memory must be a positive multiple of 64 KiB")
        }
    }

    /// The threads that run requests.
    package func executionThreads() -> ExecutionThreadPool {
        ExecutionThreadPool(
            threads: maxConcurrentExecutions, queueCapacity: maxQueuedExecutions,
            // Host calls and the engine's own frames need room beyond the Wasm stack limit.
            stackSize: 2 * maxWasmStackBytes + (8 << 20))
    }

    /// The result of a request the sandbox could not carry out, not yet counted. The caller
    /// sees the message; the operator must too when it is the sandbox's fault (a missing
    /// engine, one that cannot be created, a missing compile helper).
    package func failure(_ error: SandboxError, status: ExecutionResult.Status? = nil) -> ExecutionResult {
        if error.kind == .internalError {
            logger.error("run failed inside the sandbox", metadata: ["error": "\(error.message)"])
        }
        return ExecutionResult(failure: error, status: status)
    }

    /// A request's limits against the sandbox's own caps.
    package func check(_ limits: ExecutionLimits) throws(SandboxError) {
        guard limits.memoryBytes > 0, limits.memoryBytes <= maxMemoryBytes else {
            throw SandboxError("memory limit \(limits.memoryBytes) bytes is outside 1...\(maxMemoryBytes) bytes")
        }
        guard limits.timeout > .zero else { throw SandboxError("timeout must be positive") }
        guard limits.stdoutBytes >= 0, limits.stderrBytes >= 0 else {
            throw SandboxError("output caps must not be negative")
        }
    }

    /// A module's bytes or WAT text: present and within ``maxModuleBytes``.
    package func checkModule(_ input: ExecutionInput) throws(SandboxError) {
        switch input {
        case .wasm(let bytes):
            guard !bytes.isEmpty else { throw SandboxError("empty module: the input has no bytes") }
            try checkSize(bytes.count, of: "module", limit: maxModuleBytes)
        case .wat(let text):
            guard !text.allSatisfy(\.isWhitespace) else { throw SandboxError("empty module: the WAT text is empty") }
            try checkSize(text.utf8.count, of: "WAT text", limit: maxModuleBytes)
        case .javascript, .python:
            return
        }
    }

    /// A program's arguments and environment, as WASI can pass them.
    package func checkProgram(_ request: ExecutionRequest) throws(SandboxError) {
        for text in request.arguments + request.environment.flatMap({ [$0.key, $0.value] }) where text.utf8.contains(0)
        {
            throw SandboxError("WASI arguments and environment must not contain NUL bytes")
        }
        for name in request.environment.keys.sorted() where name.isEmpty || name.contains("=") {
            throw SandboxError("invalid environment variable name '\(name)'")
        }
    }

    /// A program's source: within ``maxSourceBytes`` and free of NUL bytes.
    package func checkSource(_ source: String, language: String) throws(SandboxError) {
        try checkSize(source.utf8.count, of: "\(language) source", limit: maxSourceBytes)
        guard !source.utf8.contains(0) else { throw SandboxError("the \(language) source contains a NUL byte") }
    }

    private func checkSize(_ size: Int, of what: String, limit: Int) throws(SandboxError) {
        guard size <= limit else {
            throw SandboxError("\(what) of \(size) bytes exceeds the \(limit)-byte limit")
        }
    }
}
