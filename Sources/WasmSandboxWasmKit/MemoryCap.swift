@_spi(Fuzzing) import WasmKit

/// One run's cap on linear memory and tables, asked by WasmKit before every growth (and at
/// instantiation). Unlike Wasmtime's, it tells the sandbox that a growth was refused, so a
/// failure after one is blamed on the limit exactly.
///
/// WasmKit offers the limiter only as `@_spi(Fuzzing)`: the package is pinned exactly so
/// that an upgrade cannot change it unnoticed.
final class MemoryCap: ResourceLimiter, @unchecked Sendable {
    /// Table elements a run may have. WasmKit keeps a table's elements in host memory
    /// outside the linear-memory cap, so they are capped on their own; engines such as
    /// QuickJS need a few thousand.
    static let maxTableElements = 1 << 20
    /// Table elements asked for by all growths of a run together (at 16 bytes an element,
    /// 64 MiB of host memory): a module may declare many tables, and the limiter is not told
    /// which one grows, so every request counts in full. A guest growing a table one element
    /// at a time reaches it early; engines size their tables at instantiation.
    static let maxRequestedTableElements = 1 << 22

    let bytes: Int
    // Touched only on the run's thread, inside WasmKit's growth checks.
    private(set) var refusedSize: Int?

    init(bytes: Int) { self.bytes = bytes }

    func limitMemoryGrowth(to desired: Int) throws -> Bool {
        guard desired <= bytes else {
            refusedSize = desired
            return false
        }
        return true
    }

    private var requestedTableElements = 0

    func limitTableGrowth(to desired: Int) throws -> Bool {
        guard desired <= Self.maxTableElements,
            requestedTableElements + desired <= Self.maxRequestedTableElements
        else { return false }
        requestedTableElements += desired
        return true
    }
}
