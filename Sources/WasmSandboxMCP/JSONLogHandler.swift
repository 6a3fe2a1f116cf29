import Foundation
import Logging
import MCP
import Synchronization

#if canImport(Glibc)
    import Glibc
#endif

/// A swift-log handler that writes each message as one JSON object on one line: `time` (UTC,
/// milliseconds), `level`, `label`, `message`, then the metadata, nested as it was given.
/// Numbers and booleans given as `stringConvertible` stay JSON numbers and booleans.
///
/// Lines from every handler on one descriptor are written whole, one at a time, so that
/// concurrent calls never interleave within a line.
public struct JSONLogHandler: LogHandler {
    public var metadata: Logger.Metadata = [:]
    public var logLevel: Logger.Level = .info
    private let label: String
    private let output: Output

    /// A descriptor lines go to, shared by the handlers that write to it.
    public final class Output: Sendable {
        private let descriptor: Int32
        private let lock = Mutex(())

        /// Standard error.
        public static let standardError = Output(descriptor: 2)

        init(descriptor: Int32) { self.descriptor = descriptor }

        deinit { if descriptor > 2 { close(descriptor) } }

        /// Appends to the file at `path`, creating it (mode 0600: audit lines name clients).
        public convenience init(appendingTo path: String) throws {
            let descriptor = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0o600)
            guard descriptor >= 0 else {
                throw ConfigurationError("cannot open the log file '\(path)': \(String(cString: strerror(errno)))")
            }
            self.init(descriptor: descriptor)
        }

        func write(_ line: [UInt8]) {
            lock.withLock { _ in
                var offset = 0
                while offset < line.count {
                    let written = line[offset...].withUnsafeBytes { Glibc.write(descriptor, $0.baseAddress, $0.count) }
                    if written < 0 {
                        if errno == EINTR { continue }
                        return
                    }
                    offset += written
                }
            }
        }
    }

    public init(label: String, output: Output = .standardError) {
        self.label = label
        self.output = output
    }

    public subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { metadata[key] }
        set { metadata[key] = newValue }
    }

    public func log(event: LogEvent) {
        var fields: [(String, Logger.MetadataValue)] = [
            ("time", .string(Self.timestamp())), ("level", .string(event.level.rawValue)),
            ("label", .string(label)), ("message", .string(event.message.description)),
        ]
        let extra = metadata.merging(event.metadata ?? [:]) { $1 }
        for key in extra.keys.sorted() where !["time", "level", "label", "message"].contains(key) {
            fields.append((key, extra[key]!))
        }
        var line: [UInt8] = []
        line.reserveCapacity(256)
        Self.writeObject(fields, to: &line)
        line.append(UInt8(ascii: "\n"))
        output.write(line)
    }

    private static func timestamp() -> String {
        var now = timespec()
        clock_gettime(CLOCK_REALTIME, &now)
        var seconds = now.tv_sec
        var parts = tm()
        gmtime_r(&seconds, &parts)
        return String(
            format: "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", parts.tm_year + 1900, parts.tm_mon + 1, parts.tm_mday,
            parts.tm_hour, parts.tm_min, parts.tm_sec, now.tv_nsec / 1_000_000)
    }

    private static func writeObject(_ fields: [(String, Logger.MetadataValue)], to out: inout [UInt8]) {
        out.append(UInt8(ascii: "{"))
        for (index, (key, value)) in fields.enumerated() {
            if index > 0 { out.append(UInt8(ascii: ",")) }
            JSONText.string(key, to: &out)
            out.append(UInt8(ascii: ":"))
            write(value, to: &out)
        }
        out.append(UInt8(ascii: "}"))
    }

    private static func write(_ value: Logger.MetadataValue, to out: inout [UInt8]) {
        JSONText.write(json(value), to: &out)
    }

    /// A metadata value as JSON: numbers and booleans stay what they are.
    private static func json(_ value: Logger.MetadataValue) -> Value {
        switch value {
        case .string(let text): .string(text)
        case .stringConvertible(let item):
            switch item {
            case let flag as Bool: .bool(flag)
            case let number as Int: .int(number)
            case let number as Double where number.isFinite: .double(number)
            default: .string(item.description)
            }
        case .array(let items): .array(items.map(json))
        case .dictionary(let fields): .object(fields.mapValues(json))
        }
    }
}
