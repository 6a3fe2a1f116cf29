/// How an ``Engine`` compiles and runs code. A value type: build it, then hand it to the engine.
///
/// Wasmtime aborts the process on some invalid configurations instead of reporting them, so
/// ``validate()`` checks those combinations first and ``Engine/init(_:)`` calls it.
public struct EngineConfiguration: Sendable, Hashable, Codable {
    /// Counts instructions against a per-store fuel budget.
    public var consumeFuel = false
    /// Lets a store be interrupted when the engine's epoch passes its deadline.
    public var epochInterruption = false
    /// The most native stack Wasm may use before it traps with a stack overflow.
    public var maxWasmStack = 512 * 1024
    /// The stack of async calls; Wasmtime requires it to be at least ``maxWasmStack``.
    /// `nil` picks the larger of Wasmtime's default (2 MiB) and ``maxWasmStack``.
    public var asyncStackSize: Int? = nil
    /// Virtual address space reserved per linear memory (Wasmtime's default: 4 GiB).
    public var memoryReservation: UInt64? = nil
    /// Guard region after each linear memory (Wasmtime's default: 32 MiB).
    public var memoryGuardSize: UInt64? = nil
    /// Extra reservation for memories that grow past their reservation.
    public var memoryReservationForGrowth: UInt64? = nil
    /// Cranelift's optimisation level.
    public var optimization = Optimization.speed
    /// Compiles functions of a module on several threads.
    public var parallelCompilation = true
    /// Preallocated slots for instances and memories; `nil` allocates on demand.
    public var pooling: PoolingConfiguration? = nil
    /// WebAssembly proposals turned off; the others keep Wasmtime's defaults.
    public var disabledProposals: Set<Proposal> = []
    /// WebAssembly proposals turned on, whatever Wasmtime's default.
    public var enabledProposals: Set<Proposal> = []

    /// WebAssembly proposals that can be turned off.
    public enum Proposal: String, Sendable, Hashable, CaseIterable, Comparable, Codable {
        /// Garbage-collected structs and arrays: their heap is not a linear memory.
        case gc
        /// Typed function references (required by GC).
        case functionReferences
        /// Shared memories and atomics.
        case threads
        /// 64-bit linear memories.
        case memory64
        /// More than one linear memory per module.
        case multiMemory
        /// Exception handling.
        case exceptions
        /// Stack switching (continuations).
        case stackSwitching

        public static func < (lhs: Self, rhs: Self) -> Bool { lhs.rawValue < rhs.rawValue }
    }

    public enum Optimization: UInt8, Sendable, Hashable, Codable {
        case none = 0
        case speed = 1
        case speedAndSize = 2
    }

    public init() {}

    /// The async stack size handed to Wasmtime.
    var effectiveAsyncStackSize: Int { asyncStackSize ?? max(2 << 20, maxWasmStack) }

    /// Wasmtime's default memory reservation on 64-bit hosts.
    public static let defaultMemoryReservation: UInt64 = 4 << 30

    /// Throws for combinations that would make Wasmtime abort the process.
    public func validate() throws(WasmtimeError) {
        guard maxWasmStack >= 64 * 1024 else {
            throw WasmtimeError.error(message: "max wasm stack must be at least 64 KiB (got \(maxWasmStack) bytes)")
        }
        if let both = disabledProposals.intersection(enabledProposals).min() {
            throw WasmtimeError.error(message: "the \(both.rawValue) proposal is both enabled and disabled")
        }
        if disabledProposals.contains(.functionReferences) && !disabledProposals.contains(.gc) {
            throw WasmtimeError.error(message: "the GC proposal needs function references: disable both or neither")
        }
        if let asyncStackSize, asyncStackSize < maxWasmStack {
            throw WasmtimeError.error(
                message:
                    "async stack size (\(asyncStackSize) bytes) is below the max wasm stack (\(maxWasmStack) bytes)")
        }
        if let pooling {
            let reservation = memoryReservation ?? Self.defaultMemoryReservation
            guard UInt64(pooling.maxMemorySize) <= reservation else {
                throw WasmtimeError.error(
                    message:
                        "pooling max memory size (\(pooling.maxMemorySize) bytes) exceeds the memory reservation (\(reservation) bytes)"
                )
            }
            guard pooling.totalMemories != 0 else {
                throw WasmtimeError.error(message: "pooling allocator needs at least one memory slot")
            }
            guard pooling.totalInstances > 0 else {
                throw WasmtimeError.error(message: "pooling allocator needs at least one instance slot")
            }
            guard pooling.maxMemorySize % 65536 == 0 else {
                throw WasmtimeError.error(message: "pooling max memory size must be a multiple of 64 KiB")
            }
        }
    }
}

/// Sizes of the pooling instance allocator: every slot is reserved up front, so an
/// instantiation only hands out a slot instead of mapping memory.
public struct PoolingConfiguration: Sendable, Hashable, Codable {
    /// Instances that may be alive at once.
    public var totalInstances: UInt32
    /// Linear memories (and tables, GC heaps) that may be alive at once; `nil` for one per
    /// instance. Each is a reserved slot with guard pages, so fewer cost less address space
    /// and fewer kernel mappings.
    public var totalMemories: UInt32? = nil
    /// Stacks for async calls, each with a guard page; Wasmtime's default is 1000, and code
    /// that never calls Wasm asynchronously needs none beyond the one this keeps.
    public var totalStacks: UInt32 = 1
    /// The largest linear memory a slot holds.
    public var maxMemorySize: Int
    /// The largest instance metadata (VM context) a module may need.
    public var maxCoreInstanceSize = 8 << 20
    /// The most elements a table may hold.
    public var tableElements = 100_000
    /// Freed slots kept warm (mapped) for reuse.
    public var maxUnusedWarmSlots: UInt32 = 100
    /// Bytes of each linear memory kept resident between uses instead of being released.
    public var linearMemoryKeepResident = 64 * 1024

    public init(totalInstances: UInt32, maxMemorySize: Int) {
        self.totalInstances = totalInstances
        self.maxMemorySize = maxMemorySize
    }
}
