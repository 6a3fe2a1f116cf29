@_spi(Fuzzing) import WasmKit
import WasmSandboxCore

/// One run's cap on linear memory and tables, asked by WasmKit before every growth (and at
/// instantiation). Unlike Wasmtime's, it tells the sandbox that a growth was refused, so a
/// failure after one is blamed on the limit exactly.
///
/// WasmKit offers the limiter only as `@_spi(Fuzzing)`: the package is pinned exactly so
/// that an upgrade cannot change it unnoticed.
final class MemoryCap: ResourceLimiter, @unchecked Sendable {
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
    /// Whether a table growth (or a table at instantiation) was refused.
    private(set) var refusedTable = false

    func limitTableGrowth(to desired: Int) throws -> Bool {
        // Every request counts in full (the limiter is not told which table grows), so a
        // guest growing a table one element at a time reaches the bound early; engines size
        // their tables at instantiation.
        guard desired <= TableBounds.maxElements,
            requestedTableElements + desired <= TableBounds.maxRequestedElements
        else {
            refusedTable = true
            return false
        }
        requestedTableElements += desired
        return true
    }
}
