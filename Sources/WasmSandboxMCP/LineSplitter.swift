import Foundation
import MCP

/// Splits a byte stream into newline-terminated messages, looking at each byte once.
///
/// A line longer than `maxMessageBytes` is not kept: its bytes are counted as they pass, and
/// scanned for the request's top-level `id`, which its error answer needs.
struct LineSplitter {
    enum Event {
        case message(Data)
        case oversized(Oversized)
    }

    /// A line that was dropped for its size.
    struct Oversized: Equatable {
        var bytes: Int
        var limit: Int
        /// The request's top-level `id`; `nil` (answered with a null id) when it has none.
        var id: ID?

        var message: String {
            "the message is \(bytes) bytes, above the server's limit of \(limit) bytes "
                + "(MCP_SANDBOX_MAX_MESSAGE_BYTES): send less code or smaller files per call"
        }

        /// A JSON-RPC `invalid request` error answering it.
        var errorResponse: Data {
            var object: [String: Any] = [
                "jsonrpc": "2.0", "error": ["code": -32600, "message": message] as [String: Any],
            ]
            switch id {
            case .string(let text): object["id"] = text
            case .number(let number): object["id"] = number
            case nil: object["id"] = NSNull()
            }
            return (try? JSONSerialization.data(withJSONObject: object, options: [.sortedKeys])) ?? Data()
        }
    }

    let maxMessageBytes: Int
    private var pending = Data()
    /// Bytes seen of the line being dropped, while one is.
    private var skipped: Int?
    private var scanner = TopLevelIDScanner()

    init(maxMessageBytes: Int) {
        self.maxMessageBytes = maxMessageBytes
    }

    /// Feeds bytes read from the stream; `emit` gets each line they complete.
    mutating func consume(_ bytes: UnsafeRawBufferPointer, emit: (Event) -> Void) {
        guard let base = bytes.baseAddress else { return }
        var start = 0
        while start < bytes.count {
            let rest = bytes.count - start
            if let newline = memchr(base + start, Int32(UInt8(ascii: "\n")), rest) {
                let end = base.distance(to: UnsafeRawPointer(newline))
                append(UnsafeRawBufferPointer(start: base + start, count: end - start))
                finishLine(emit)
                start = end + 1
            } else {
                append(UnsafeRawBufferPointer(start: base + start, count: rest))
                start = bytes.count
            }
        }
    }

    private mutating func append(_ piece: UnsafeRawBufferPointer) {
        if let count = skipped {
            skipped = count + piece.count
            scanner.scan(piece)
        } else if pending.count + piece.count > maxMessageBytes {
            scanner = TopLevelIDScanner()
            scanner.scan(pending)
            scanner.scan(piece)
            skipped = pending.count + piece.count
            pending = Data()
        } else {
            pending.append(piece.assumingMemoryBound(to: UInt8.self))
        }
    }

    private mutating func finishLine(_ emit: (Event) -> Void) {
        if let count = skipped {
            scanner.finish()
            emit(.oversized(Oversized(bytes: count, limit: maxMessageBytes, id: scanner.id)))
            skipped = nil
            return
        }
        var line = pending
        pending = Data()
        if line.last == UInt8(ascii: "\r") { line.removeLast() }
        // Blank lines between messages are tolerated, as other stdio servers do.
        guard line.contains(where: { !Self.isSpace($0) }) else { return }
        emit(.message(line))
    }

    private static func isSpace(_ byte: UInt8) -> Bool {
        byte == 0x20 || byte == 0x09 || byte == 0x0D || byte == 0x0A
    }
}
