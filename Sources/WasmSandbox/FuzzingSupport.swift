// Internal entry points for the fuzz targets in WasmSandboxFuzzing. They live in a file of
// their own, as SPI, so that the fuzzers reach exactly these functions without `@testable`
// (unavailable in the optimised builds fuzzers may use) and without edits to the files
// they test.

/// ``DiskModuleCache/verify(_:key:engine:)``: the payload of a cache file when its header
/// and checksum are right.
@_spi(Fuzzing) public func verifyDiskCacheFile(
    _ bytes: UnsafeRawBufferPointer, key: [UInt8], engine: [UInt8]
) -> UnsafeRawBufferPointer? {
    DiskModuleCache.verify(bytes, key: key, engine: engine)
}
