/// How large a run's tables may grow, on both backends. Table elements live in host memory
/// outside the linear-memory cap (8 to 16 bytes each), so without a bound a guest growing
/// tables in a loop takes gigabytes from the host (measured: 2.2 GB in 5 s on Wasmtime with
/// the on-demand allocator, before this bound).
package enum TableBounds {
    /// Elements one table may hold. Language engines need a few thousand.
    package static let maxElements = 1 << 20
    /// Tables one store may hold (Wasmtime). WasmKit's limiter is not told which table
    /// grows, so it bounds the elements requested by all growths together instead:
    /// ``maxElements`` times four.
    package static let maxTables = 8
    package static let maxRequestedElements = 4 * maxElements
}
