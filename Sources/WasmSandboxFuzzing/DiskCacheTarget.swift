import Crypto
@_spi(Fuzzing) import WasmSandbox

extension FuzzTarget {
    /// The disk cache's check of a file before its bytes become native code.
    ///
    /// The first byte picks the mode. Even: the rest is the file as it is. Odd: the rest
    /// (after three control bytes) is a payload wrapped in a correct header, which must be
    /// accepted, and then mutated as the control bytes say, so that the fuzzer gets past
    /// the magic, the lengths and the checksum. Either way the verdict must be the one the
    /// file format (re-implemented here from its description) gives, and an accepted
    /// payload must be exactly the bytes after the header.
    public static let diskCache = FuzzTarget(name: "disk-cache") { data in
        guard let mode = data.first else { return nil }
        if mode & 1 == 0 { return DiskCacheFuzzing.check(Array(data.dropFirst())) }
        let control = Array(data.dropFirst().prefix(3))
        let payload = Array(data.dropFirst(4))
        var file = DiskCacheFuzzing.file(payload: payload)
        if let failure = DiskCacheFuzzing.check(file) { return failure }
        guard DiskCacheFuzzing.verdict(file, key: DiskCacheFuzzing.key, engine: DiskCacheFuzzing.engine) else {
            return "the oracle refuses a correctly built file"
        }
        guard control.count == 3 else { return nil }
        let position = (Int(control[1]) << 8 | Int(control[2])) % (file.count + 1)
        switch control[0] % 5 {
        case 0: if position < file.count { file[position] ^= control[2] | 1 }
        case 1: file.removeLast(file.count - position)
        case 2: file.insert(control[1], at: position)
        case 3: if position < file.count { file.remove(at: position) }
        default:
            // A length field that disagrees with the file's size.
            let length = UInt64(payload.count) &+ UInt64(control[1]) &- UInt64(control[2])
            withUnsafeBytes(of: length.littleEndian) { file.replaceSubrange(104..<112, with: $0) }
        }
        return DiskCacheFuzzing.check(file)
    }
}

enum DiskCacheFuzzing {
    static let magic = Array("WSBXMOD1".utf8)
    static let headerSize = 112
    static let engine = Array(SHA256.hash(data: Array("fuzz engine".utf8)))
    static let key = Array(SHA256.hash(data: Array("fuzz module".utf8)))

    /// A cache file as `DiskModuleCache.store` writes it: magic, engine fingerprint, key,
    /// SHA-256 of the payload, payload length (64-bit little-endian), payload.
    static func file(payload: [UInt8]) -> [UInt8] {
        var bytes = magic + engine + key + Array(SHA256.hash(data: payload))
        withUnsafeBytes(of: UInt64(payload.count).littleEndian) { bytes.append(contentsOf: $0) }
        return bytes + payload
    }

    /// Whether the file format accepts `file` for `key` under `engine`.
    static func verdict(_ file: [UInt8], key: [UInt8], engine: [UInt8]) -> Bool {
        guard file.count >= headerSize, key.count == 32, engine.count == 32 else { return false }
        let length = file[104..<112].reversed().reduce(UInt64(0)) { $0 << 8 | UInt64($1) }
        return Array(file[0..<8]) == magic && Array(file[8..<40]) == engine && Array(file[40..<72]) == key
            && length == UInt64(file.count - headerSize)
            && Array(file[72..<104]) == Array(SHA256.hash(data: file[headerSize...]))
    }

    /// Checks the cache's verdict on `file` for the right key and engine and for wrong ones
    /// (another key, a prefix of the engine, nothing at all).
    static func check(_ file: [UInt8]) -> String? {
        let cases = [(key, engine), (Array(key.reversed()), engine), (key, Array(engine.prefix(31))), ([], [])]
        for (key, engine) in cases {
            let failure: String? = file.withUnsafeBytes { bytes in
                let payload = verifyDiskCacheFile(bytes, key: key, engine: engine)
                let expected = verdict(file, key: key, engine: engine)
                guard let payload else {
                    return expected ? "a valid \(file.count)-byte file was refused" : nil
                }
                guard expected else { return "an invalid \(file.count)-byte file was accepted" }
                guard payload.baseAddress == bytes.baseAddress.map({ $0 + headerSize }),
                    payload.count == file.count - headerSize
                else { return "the payload is not the \(file.count - headerSize) bytes after the header" }
                return nil
            }
            if let failure { return failure }
        }
        return nil
    }
}
