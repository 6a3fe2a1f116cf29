import Foundation
import Logging
import MCP

#if canImport(Glibc)
    import Glibc
#endif

/// MCP's stdio transport: one JSON-RPC message per line on standard input and output.
///
/// The SDK's own transport polls: it reads 4 KiB at a time, sleeps 10 ms whenever the pipe is
/// empty and searches the whole buffer again after every read, so every request waits at
/// least 10 ms and a large one costs time quadratic in its size. Here a thread of the
/// transport's own blocks in `read(2)` (so no cooperative thread waits on the pipe), each
/// byte is searched for a newline once, and a message larger than `maxMessageBytes` is
/// skipped as it streams past (never held) and answered with an error naming the limit.
/// Writes go through a ``LineWriter``: whole lines, in order, never on the cooperative pool,
/// with a bounded backlog that stops the reading when a client does not read its answers.
public actor StdioLineTransport: Transport {
    public nonisolated let logger: Logger
    private let input: Int32
    private let maxMessageBytes: Int
    /// Where every message out goes: the SDK's, and the shortcut's answers.
    nonisolated let writer: LineWriter
    private let messages: AsyncThrowingStream<Data, any Error>
    private let continuation: AsyncThrowingStream<Data, any Error>.Continuation
    private var reader: Thread?
    /// Sees each message before the SDK's server does, and keeps those it answers itself.
    private var shortcut: (@Sendable (Data) -> Bool)?

    /// - Parameters:
    ///   - maxMessageBytes: The largest message accepted; a longer line is dropped and answered
    ///     with a JSON-RPC `invalid request` error.
    public init(
        input: Int32 = STDIN_FILENO, output: Int32 = STDOUT_FILENO, maxMessageBytes: Int = 16 << 20,
        logger: Logger
    ) {
        self.input = input
        self.maxMessageBytes = maxMessageBytes
        // Room for a few of the largest answers; past it the reader waits for the client.
        writer = LineWriter(output: output, backlogLimit: max(4 * maxMessageBytes, 64 << 20))
        self.logger = logger
        (messages, continuation) = AsyncThrowingStream.makeStream()
    }

    /// Sets what sees each message first (``ToolCallShortcut/offer(_:)``); before ``connect()``.
    func setShortcut(_ shortcut: @escaping @Sendable (Data) -> Bool) {
        self.shortcut = shortcut
    }

    public func connect() async throws {
        guard reader == nil else { return }
        let (input, maxMessageBytes, continuation, logger, writer) = (
            input, maxMessageBytes, continuation, logger, writer
        )
        let shortcut = shortcut
        let reject: @Sendable (LineSplitter.Oversized) -> Void = { oversized in
            logger.warning("dropped an oversized message", metadata: ["bytes": "\(oversized.bytes)"])
            writer.enqueue(oversized.errorResponse)
        }
        let thread = Thread {
            Self.readLoop(
                input: input, splitter: LineSplitter(maxMessageBytes: maxMessageBytes), shortcut: shortcut,
                writer: writer, continuation: continuation, reject: reject)
        }
        thread.name = "wasm-sandbox-stdio-read"
        thread.stackSize = 1 << 20
        reader = thread
        thread.start()
    }

    public func disconnect() async {
        continuation.finish()
    }

    public func send(_ data: Data) async throws {
        let writer = writer
        try await withCheckedThrowingContinuation { (done: CheckedContinuation<Void, any Error>) in
            writer.enqueue(data) { failure in
                if let failure { done.resume(throwing: MCPError.transportError(failure)) } else { done.resume() }
            }
        }
    }

    public nonisolated func receive() -> AsyncThrowingStream<Data, any Error> { messages }

    /// Reads until end of input or an error; ends the message stream either way.
    private static func readLoop(
        input: Int32, splitter: consuming LineSplitter, shortcut: (@Sendable (Data) -> Bool)?, writer: LineWriter,
        continuation: AsyncThrowingStream<Data, any Error>.Continuation,
        reject: (LineSplitter.Oversized) -> Void
    ) {
        var splitter = splitter
        let chunkSize = 256 << 10
        let chunk = UnsafeMutableRawBufferPointer.allocate(byteCount: chunkSize, alignment: 1)
        defer { chunk.deallocate() }
        while true {
            writer.waitForRoom()
            let count = read(input, chunk.baseAddress, chunkSize)
            if count < 0, errno == EINTR { continue }
            guard count > 0 else { break }
            splitter.consume(UnsafeRawBufferPointer(rebasing: chunk[..<count])) { event in
                switch event {
                case .message(let message):
                    if shortcut?(message) != true { continuation.yield(message) }
                case .oversized(let oversized): reject(oversized)
                }
            }
        }
        continuation.finish()
    }
}
