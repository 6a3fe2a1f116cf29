import CWasmtime

/// A Wasmtime engine: compiles modules and owns the code and instance pools.
///
/// Shareable across threads; one engine serves every store of a process.
public final class Engine: @unchecked Sendable {
    let raw: OpaquePointer
    /// The configuration this engine was built with.
    public let configuration: EngineConfiguration

    /// Builds an engine, rejecting configurations that Wasmtime would abort on.
    public init(_ configuration: EngineConfiguration = EngineConfiguration()) throws(WasmtimeError) {
        try configuration.validate()
        let config = wasm_config_new()!
        wasmtime_config_consume_fuel_set(config, configuration.consumeFuel)
        wasmtime_config_epoch_interruption_set(config, configuration.epochInterruption)
        wasmtime_config_max_wasm_stack_set(config, configuration.maxWasmStack)
        wasmtime_config_async_stack_size_set(config, configuration.effectiveAsyncStackSize)
        wasmtime_config_cranelift_opt_level_set(config, configuration.optimization.rawValue)
        wasmtime_config_parallel_compilation_set(config, configuration.parallelCompilation)
        let proposals =
            configuration.disabledProposals.map { ($0, false) } + configuration.enabledProposals.map { ($0, true) }
        for (proposal, enabled) in proposals {
            switch proposal {
            case .gc: wasmtime_config_wasm_gc_set(config, enabled)
            case .functionReferences: wasmtime_config_wasm_function_references_set(config, enabled)
            case .threads: wasmtime_config_wasm_threads_set(config, enabled)
            case .memory64: wasmtime_config_wasm_memory64_set(config, enabled)
            case .multiMemory: wasmtime_config_wasm_multi_memory_set(config, enabled)
            case .exceptions: wasmtime_config_wasm_exceptions_set(config, enabled)
            case .stackSwitching: wasmtime_config_wasm_stack_switching_set(config, enabled)
            }
        }
        if let value = configuration.memoryReservation { wasmtime_config_memory_reservation_set(config, value) }
        if let value = configuration.memoryGuardSize { wasmtime_config_memory_guard_size_set(config, value) }
        if let value = configuration.memoryReservationForGrowth {
            wasmtime_config_memory_reservation_for_growth_set(config, value)
        }
        if let pooling = configuration.pooling {
            let pool = wasmtime_pooling_allocation_config_new()!
            wasmtime_pooling_allocation_config_total_core_instances_set(pool, pooling.totalInstances)
            let memories = pooling.totalMemories ?? pooling.totalInstances
            wasmtime_pooling_allocation_config_total_memories_set(pool, memories)
            wasmtime_pooling_allocation_config_total_tables_set(pool, memories)
            wasmtime_pooling_allocation_config_total_gc_heaps_set(pool, memories)
            wasmtime_pooling_allocation_config_total_stacks_set(pool, pooling.totalStacks)
            wasmtime_pooling_allocation_config_max_memory_size_set(pool, pooling.maxMemorySize)
            wasmtime_pooling_allocation_config_max_core_instance_size_set(pool, pooling.maxCoreInstanceSize)
            wasmtime_pooling_allocation_config_table_elements_set(pool, pooling.tableElements)
            wasmtime_pooling_allocation_config_max_unused_warm_slots_set(pool, pooling.maxUnusedWarmSlots)
            wasmtime_pooling_allocation_config_linear_memory_keep_resident_set(pool, pooling.linearMemoryKeepResident)
            wasmtime_pooling_allocation_strategy_set(config, pool)
            wasmtime_pooling_allocation_config_delete(pool)
        }
        guard let engine = wasm_engine_new_with_config(config) else {
            throw WasmtimeError.error(message: "Wasmtime could not create an engine")
        }
        self.raw = engine
        self.configuration = configuration
    }

    deinit { wasm_engine_delete(raw) }

    /// Advances the epoch that stores compare against their deadlines; safe from any thread.
    public func incrementEpoch() { wasmtime_engine_increment_epoch(raw) }
}
