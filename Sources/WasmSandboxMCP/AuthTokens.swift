import Crypto
import Foundation

#if canImport(Glibc)
    import Glibc
#endif

/// The clients allowed to use the HTTP server: a name and the SHA-256 of a bearer token per
/// line of a tokens file, with optional per-client quotas.
///
/// ```
/// # NAME  SHA256-HEX-OF-TOKEN  [concurrent_runs=N] [calls_per_minute=N] [cpu_seconds_per_minute=N]
/// alice   9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08
/// ci      60303ae22b998861bce3b28f33eec1be758a213c86c93c076dbe9f558c11c752  concurrent_runs=16
/// ```
///
/// A name may have several lines (old and new token while rotating); a token hash may not
/// repeat. Only hashes are kept, so the file gives away no token. A presented token is hashed
/// and compared with every entry in constant time: how long a check takes says nothing about
/// how close a guess came.
public struct AuthTokens: Sendable {
    /// One line of the file.
    public struct Entry: Sendable, Equatable {
        public var client: String
        public var hash: [UInt8]
        /// The line's quota settings; those it does not set come from the server's defaults.
        public var quota: QuotaOverrides
    }

    public private(set) var entries: [Entry]

    /// The most lines with a token a file may hold: every check compares with all of them.
    public static let maxEntries = 1_000
    /// The largest tokens file read.
    public static let maxFileBytes = 1 << 20
    /// The longest token accepted from a request, in bytes.
    public static let maxTokenBytes = 1_024
    /// Names the server gives clients that present no token, and the metrics' overflow
    /// series; a file cannot use them, in any case.
    public static let reservedNames: Set<String> = ["stdio", "anonymous", "library", "other"]

    /// Parses a tokens file's text; an error names the line and what is wrong with it.
    public init(parsing text: String) throws(ConfigurationError) {
        var entries: [Entry] = []
        var seen = Set<[UInt8]>()
        for (index, rawLine) in text.split(separator: "\n", omittingEmptySubsequences: false).enumerated() {
            let number = index + 1
            var line = Substring(rawLine)
            if let hash = line.firstIndex(of: "#") { line = line[..<hash] }
            let fields = line.split(whereSeparator: { $0 == " " || $0 == "\t" || $0 == "\r" })
            guard let name = fields.first else { continue }
            guard fields.count >= 2 else {
                throw ConfigurationError("line \(number): expected 'NAME SHA256-HEX', got only '\(name)'")
            }
            guard Self.isValidName(name) else {
                throw ConfigurationError(
                    "line \(number): client name '\(name.prefix(80))' must be 1 to 64 letters, digits, '.', '_' or '-', starting with a letter or digit"
                )
            }
            guard !Self.reservedNames.contains(name.lowercased()) else {
                throw ConfigurationError("line \(number): client name '\(name)' is reserved")
            }
            guard let hash = Self.hexBytes(fields[1]), hash.count == SHA256.byteCount else {
                throw ConfigurationError(
                    "line \(number): '\(fields[1].prefix(80))' is not a SHA-256 in hex (64 characters 0-9, a-f)")
            }
            guard seen.insert(hash).inserted else {
                throw ConfigurationError("line \(number): this token hash is already on an earlier line")
            }
            var quota = QuotaOverrides()
            for setting in fields.dropFirst(2) {
                do { try quota.set(setting) } catch { throw ConfigurationError("line \(number): \(error.description)") }
            }
            entries.append(Entry(client: String(name), hash: hash, quota: quota))
            guard entries.count <= Self.maxEntries else {
                throw ConfigurationError(
                    "more than \(Self.maxEntries) token lines: put an OAuth proxy in front instead")
            }
        }
        self.entries = entries
    }

    /// Reads and parses a tokens file; an error names the file. Only a regular file is read
    /// (a FIFO or a device could block the reload or never end).
    public init(contentsOf path: String) throws(ConfigurationError) {
        let descriptor = open(path, O_RDONLY | O_NONBLOCK | O_CLOEXEC)
        guard descriptor >= 0 else {
            throw ConfigurationError("cannot read the tokens file '\(path)': \(String(cString: strerror(errno)))")
        }
        defer { close(descriptor) }
        var status = stat()
        guard fstat(descriptor, &status) == 0, status.st_mode & S_IFMT == S_IFREG else {
            throw ConfigurationError("the tokens file '\(path)' is not a regular file")
        }
        guard status.st_size <= Self.maxFileBytes else {
            throw ConfigurationError("the tokens file '\(path)' is larger than \(Self.maxFileBytes) bytes")
        }
        var bytes = [UInt8](repeating: 0, count: Self.maxFileBytes + 1)
        var filled = 0
        while filled < bytes.count {
            let count = bytes[filled...].withUnsafeMutableBytes { read(descriptor, $0.baseAddress, $0.count) }
            if count < 0, errno == EINTR { continue }
            guard count >= 0 else {
                throw ConfigurationError("cannot read the tokens file '\(path)': \(String(cString: strerror(errno)))")
            }
            if count == 0 { break }
            filled += count
        }
        guard filled <= Self.maxFileBytes else {
            throw ConfigurationError("the tokens file '\(path)' is larger than \(Self.maxFileBytes) bytes")
        }
        guard let text = String(validating: bytes[..<filled], as: UTF8.self), !text.contains("\0") else {
            throw ConfigurationError("the tokens file '\(path)' is not UTF-8 text")
        }
        do { try self.init(parsing: text) } catch {
            throw ConfigurationError("tokens file '\(path)': \(error.description)")
        }
    }

    /// The entry whose hash is the SHA-256 of `token`, compared with every entry in constant
    /// time; `nil` when none matches.
    public func entry(forToken token: some StringProtocol) -> Entry? {
        let digest = Array(SHA256.hash(data: Array(token.utf8)))
        var found = -1
        for (index, entry) in entries.enumerated() {
            var difference: UInt8 = 0
            for byte in 0..<SHA256.byteCount { difference |= entry.hash[byte] ^ digest[byte] }
            // All ones when equal, zero otherwise, without a branch on the bytes.
            let mask = -Int(truncatingIfNeeded: (Int32(difference) - 1) >> 31 & 1)
            found = (index & mask) | (found & ~mask)
        }
        return found >= 0 ? entries[found] : nil
    }

    /// A new random token (256 bits from the system's secure generator) and the line that
    /// admits it as `client`.
    public static func newToken(client: String) throws(ConfigurationError) -> (token: String, line: String) {
        guard isValidName(Substring(client)), !reservedNames.contains(client.lowercased()) else {
            throw ConfigurationError(
                "client name '\(client.prefix(80))' must be 1 to 64 letters, digits, '.', '_' or '-', starting with a letter or digit, and not \(reservedNames.sorted().joined(separator: ", "))"
            )
        }
        var generator = SystemRandomNumberGenerator()
        let bytes = (0..<32).map { _ in UInt8.random(in: .min ... .max, using: &generator) }
        let token =
            "wsb_"
            + Data(bytes).base64EncodedString().replacingOccurrences(of: "+", with: "-")
            .replacingOccurrences(of: "/", with: "_").replacingOccurrences(of: "=", with: "")
        return (token, "\(client) \(hex(SHA256.hash(data: Array(token.utf8))))")
    }

    /// Bytes as lowercase hex, as the tokens file and the audit trail write hashes.
    public static func hex(_ bytes: some Sequence<UInt8>) -> String {
        let digits = Array("0123456789abcdef".utf8)
        var out: [UInt8] = []
        for byte in bytes {
            out.append(digits[Int(byte >> 4)])
            out.append(digits[Int(byte & 0xF)])
        }
        return String(decoding: out, as: UTF8.self)
    }

    static func isValidName(_ name: Substring) -> Bool {
        func alphanumeric(_ scalar: Unicode.Scalar) -> Bool {
            ("A"..."Z").contains(scalar) || ("a"..."z").contains(scalar) || ("0"..."9").contains(scalar)
        }
        guard (1...64).contains(name.utf8.count), let first = name.unicodeScalars.first, alphanumeric(first) else {
            return false
        }
        return name.unicodeScalars.allSatisfy { alphanumeric($0) || "._-".unicodeScalars.contains($0) }
    }

    private static func hexBytes(_ text: Substring) -> [UInt8]? {
        let digits = Array(text.utf8)
        guard digits.count.isMultiple(of: 2) else { return nil }
        var bytes: [UInt8] = []
        bytes.reserveCapacity(digits.count / 2)
        func value(_ digit: UInt8) -> UInt8? {
            switch digit {
            case UInt8(ascii: "0")...UInt8(ascii: "9"): digit - UInt8(ascii: "0")
            case UInt8(ascii: "a")...UInt8(ascii: "f"): digit - UInt8(ascii: "a") + 10
            case UInt8(ascii: "A")...UInt8(ascii: "F"): digit - UInt8(ascii: "A") + 10
            default: nil
            }
        }
        var index = 0
        while index < digits.count {
            guard let high = value(digits[index]), let low = value(digits[index + 1]) else { return nil }
            bytes.append(high << 4 | low)
            index += 2
        }
        return bytes
    }
}
