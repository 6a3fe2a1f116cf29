// Declarations of the parts of the Wasmtime C API (version 50) that wasm-sandbox calls.
//
// Written for this project from the signatures in Wasmtime's published headers; only what
// the Swift wrapper uses is declared. The library is built with the GC feature, so values
// and externs carry the GC reference members: the unions below are sized to match
// (`wasmtime_val_t` and `wasmtime_extern_t` are 32 bytes) and a test asserts it.

#ifndef WASM_SANDBOX_WASMTIME_C_API_H
#define WASM_SANDBOX_WASMTIME_C_API_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#ifdef __cplusplus
extern "C" {
#endif

// MARK: Byte vectors (wasm.h)

typedef struct wasm_byte_vec_t {
  size_t size;
  uint8_t *data;
} wasm_byte_vec_t;
typedef wasm_byte_vec_t wasm_name_t;
typedef wasm_byte_vec_t wasm_message_t;

void wasm_byte_vec_new_uninitialized(wasm_byte_vec_t *out, size_t size);
void wasm_byte_vec_new(wasm_byte_vec_t *out, size_t size, const uint8_t *data);
void wasm_byte_vec_delete(wasm_byte_vec_t *vec);

// MARK: Opaque objects

typedef struct wasm_config_t wasm_config_t;
typedef struct wasm_engine_t wasm_engine_t;
typedef struct wasm_trap_t wasm_trap_t;
typedef struct wasm_valtype_t wasm_valtype_t;
typedef struct wasm_functype_t wasm_functype_t;
typedef struct wasm_externtype_t wasm_externtype_t;
typedef struct wasm_exporttype_t wasm_exporttype_t;
typedef struct wasmtime_error wasmtime_error_t;
typedef struct wasmtime_module wasmtime_module_t;
typedef struct wasmtime_store wasmtime_store_t;
typedef struct wasmtime_context wasmtime_context_t;
typedef struct wasmtime_linker wasmtime_linker_t;
typedef struct wasmtime_instance_pre wasmtime_instance_pre_t;
typedef struct wasmtime_caller wasmtime_caller_t;
typedef struct wasi_config_t wasi_config_t;
typedef struct wasmtime_pooling_allocation_config_t wasmtime_pooling_allocation_config_t;

// MARK: Types (wasm.h)

typedef uint8_t wasm_valkind_t;
enum { WASM_I32 = 0, WASM_I64 = 1, WASM_F32 = 2, WASM_F64 = 3 };

typedef uint8_t wasm_externkind_t;
enum { WASM_EXTERN_FUNC = 0, WASM_EXTERN_GLOBAL = 1, WASM_EXTERN_TABLE = 2, WASM_EXTERN_MEMORY = 3 };

typedef struct wasm_valtype_vec_t {
  size_t size;
  wasm_valtype_t **data;
} wasm_valtype_vec_t;

typedef struct wasm_exporttype_vec_t {
  size_t size;
  wasm_exporttype_t **data;
} wasm_exporttype_vec_t;

wasm_valtype_t *wasm_valtype_new(wasm_valkind_t kind);
void wasm_valtype_vec_new(wasm_valtype_vec_t *out, size_t size, wasm_valtype_t *const data[]);
// Takes ownership of both vectors.
wasm_functype_t *wasm_functype_new(wasm_valtype_vec_t *params, wasm_valtype_vec_t *results);
void wasm_functype_delete(wasm_functype_t *type);

const wasm_name_t *wasm_exporttype_name(const wasm_exporttype_t *type);
const wasm_externtype_t *wasm_exporttype_type(const wasm_exporttype_t *type);
void wasm_exporttype_vec_delete(wasm_exporttype_vec_t *vec);
wasm_externkind_t wasm_externtype_kind(const wasm_externtype_t *type);
typedef struct wasm_memorytype_t wasm_memorytype_t;
const wasm_memorytype_t *wasm_externtype_as_memorytype_const(const wasm_externtype_t *type);
// The minimum size in pages (of 64 KiB unless a custom page size is set).
uint64_t wasmtime_memorytype_minimum(const wasm_memorytype_t *type);

// MARK: Engine and configuration (wasm.h, wasmtime/config.h, wasmtime/engine.h)

typedef uint8_t wasmtime_opt_level_t;
enum { WASMTIME_OPT_LEVEL_NONE = 0, WASMTIME_OPT_LEVEL_SPEED = 1, WASMTIME_OPT_LEVEL_SPEED_AND_SIZE = 2 };

wasm_config_t *wasm_config_new(void);
// Takes ownership of the configuration. Aborts the process on an invalid configuration.
wasm_engine_t *wasm_engine_new_with_config(wasm_config_t *config);
void wasm_engine_delete(wasm_engine_t *engine);
void wasmtime_engine_increment_epoch(wasm_engine_t *engine);

void wasmtime_config_consume_fuel_set(wasm_config_t *config, bool enable);
void wasmtime_config_epoch_interruption_set(wasm_config_t *config, bool enable);
void wasmtime_config_max_wasm_stack_set(wasm_config_t *config, size_t size);
// Must be at least the max Wasm stack, or engine creation aborts (this build has async).
void wasmtime_config_async_stack_size_set(wasm_config_t *config, size_t size);
void wasmtime_config_memory_reservation_set(wasm_config_t *config, uint64_t size);
void wasmtime_config_memory_guard_size_set(wasm_config_t *config, uint64_t size);
void wasmtime_config_memory_reservation_for_growth_set(wasm_config_t *config, uint64_t size);
void wasmtime_config_cranelift_opt_level_set(wasm_config_t *config, wasmtime_opt_level_t level);
void wasmtime_config_parallel_compilation_set(wasm_config_t *config, bool enable);
void wasmtime_config_wasm_threads_set(wasm_config_t *config, bool enable);
void wasmtime_config_wasm_memory64_set(wasm_config_t *config, bool enable);
void wasmtime_config_wasm_multi_memory_set(wasm_config_t *config, bool enable);
void wasmtime_config_wasm_gc_set(wasm_config_t *config, bool enable);
void wasmtime_config_wasm_function_references_set(wasm_config_t *config, bool enable);
void wasmtime_config_wasm_exceptions_set(wasm_config_t *config, bool enable);
void wasmtime_config_wasm_stack_switching_set(wasm_config_t *config, bool enable);

wasmtime_pooling_allocation_config_t *wasmtime_pooling_allocation_config_new(void);
void wasmtime_pooling_allocation_config_delete(wasmtime_pooling_allocation_config_t *config);
void wasmtime_pooling_allocation_config_max_unused_warm_slots_set(wasmtime_pooling_allocation_config_t *config, uint32_t value);
void wasmtime_pooling_allocation_config_linear_memory_keep_resident_set(wasmtime_pooling_allocation_config_t *config, size_t value);
void wasmtime_pooling_allocation_config_table_keep_resident_set(wasmtime_pooling_allocation_config_t *config, size_t value);
void wasmtime_pooling_allocation_config_total_memories_set(wasmtime_pooling_allocation_config_t *config, uint32_t value);
void wasmtime_pooling_allocation_config_total_tables_set(wasmtime_pooling_allocation_config_t *config, uint32_t value);
void wasmtime_pooling_allocation_config_total_core_instances_set(wasmtime_pooling_allocation_config_t *config, uint32_t value);
void wasmtime_pooling_allocation_config_total_gc_heaps_set(wasmtime_pooling_allocation_config_t *config, uint32_t value);
void wasmtime_pooling_allocation_config_total_stacks_set(wasmtime_pooling_allocation_config_t *config, uint32_t count);
void wasmtime_pooling_allocation_config_max_core_instance_size_set(wasmtime_pooling_allocation_config_t *config, size_t value);
void wasmtime_pooling_allocation_config_max_memory_size_set(wasmtime_pooling_allocation_config_t *config, size_t value);
void wasmtime_pooling_allocation_config_table_elements_set(wasmtime_pooling_allocation_config_t *config, size_t value);
// Copies the pooling configuration into the engine configuration.
void wasmtime_pooling_allocation_strategy_set(wasm_config_t *config, const wasmtime_pooling_allocation_config_t *pooling);

// MARK: Errors and traps (wasmtime/error.h, wasmtime/trap.h)

typedef uint8_t wasmtime_trap_code_t;

void wasmtime_error_delete(wasmtime_error_t *error);
wasmtime_error_t *wasmtime_error_new(const char *message);
void wasmtime_error_message(const wasmtime_error_t *error, wasm_name_t *message);
bool wasmtime_error_exit_status(const wasmtime_error_t *error, int *status);

void wasm_trap_delete(wasm_trap_t *trap);
void wasm_trap_message(const wasm_trap_t *trap, wasm_message_t *message);
bool wasmtime_trap_code(const wasm_trap_t *trap, wasmtime_trap_code_t *code);
wasm_trap_t *wasmtime_trap_new(const char *message, size_t length);
wasm_trap_t *wasmtime_trap_new_code(wasmtime_trap_code_t code);

// MARK: Modules (wasmtime/module.h, wasmtime/wat.h)

wasmtime_error_t *wasmtime_module_new(wasm_engine_t *engine, const uint8_t *wasm, size_t length, wasmtime_module_t **module);
void wasmtime_module_delete(wasmtime_module_t *module);
wasmtime_error_t *wasmtime_module_validate(wasm_engine_t *engine, const uint8_t *wasm, size_t length);
void wasmtime_module_exports(const wasmtime_module_t *module, wasm_exporttype_vec_t *out);
wasmtime_error_t *wasmtime_module_serialize(wasmtime_module_t *module, wasm_byte_vec_t *out);
wasmtime_error_t *wasmtime_module_deserialize(wasm_engine_t *engine, const uint8_t *bytes, size_t length, wasmtime_module_t **module);
// Memory-maps a file written from wasmtime_module_serialize instead of copying it.
wasmtime_error_t *wasmtime_module_deserialize_file(wasm_engine_t *engine, const char *path, wasmtime_module_t **module);

wasmtime_error_t *wasmtime_wat2wasm(const char *wat, size_t length, wasm_byte_vec_t *out);

// MARK: Values and externs (wasmtime/val.h, wasmtime/extern.h)

typedef struct wasmtime_func {
  uint64_t store_id;
  void *__private;
} wasmtime_func_t;

// The store id and first private field sit in their own (padded) struct, as in Wasmtime's
// header, so the second private field lands at offset 16: 24 bytes in all.
typedef struct wasmtime_memory {
  struct {
    uint64_t store_id;
    uint32_t __private1;
  } id;
  uint32_t __private2;
} wasmtime_memory_t;

typedef struct wasmtime_instance {
  uint64_t store_id;
  size_t __private;
} wasmtime_instance_t;

// The largest GC member of the value union (anyref, externref, exnref) is 24 bytes:
// a store id, two 32-bit fields and a pointer.
typedef struct wasmtime_gc_ref_layout {
  uint64_t store_id;
  uint32_t __private1;
  uint32_t __private2;
  void *__private3;
} wasmtime_gc_ref_layout_t;

typedef uint8_t wasmtime_valkind_t;
enum { WASMTIME_I32 = 0, WASMTIME_I64 = 1, WASMTIME_F32 = 2, WASMTIME_F64 = 3 };

typedef union wasmtime_valunion {
  int32_t i32;
  int64_t i64;
  float f32;
  double f64;
  wasmtime_func_t funcref;
  wasmtime_gc_ref_layout_t gc_ref;
  uint8_t v128[16];
} wasmtime_valunion_t;

typedef struct wasmtime_val {
  wasmtime_valkind_t kind;
  wasmtime_valunion_t of;
} wasmtime_val_t;

typedef uint8_t wasmtime_extern_kind_t;
enum { WASMTIME_EXTERN_FUNC = 0, WASMTIME_EXTERN_MEMORY = 3 };

// The largest member (a global) is a store id and three 32-bit fields: 24 bytes padded.
typedef union wasmtime_extern_union {
  wasmtime_func_t func;
  wasmtime_memory_t memory;
  struct {
    uint64_t store_id;
    uint32_t __private1;
    uint32_t __private2;
    uint32_t __private3;
  } global_layout;
} wasmtime_extern_union_t;

typedef struct wasmtime_extern {
  wasmtime_extern_kind_t kind;
  wasmtime_extern_union_t of;
} wasmtime_extern_t;

// MARK: Stores (wasmtime/store.h)

typedef uint8_t wasmtime_update_deadline_kind_t;
enum { WASMTIME_UPDATE_DEADLINE_CONTINUE = 0, WASMTIME_UPDATE_DEADLINE_YIELD = 1 };

typedef wasmtime_error_t *(*wasmtime_epoch_deadline_callback_t)(
    wasmtime_context_t *context, void *env, uint64_t *epoch_deadline_delta,
    wasmtime_update_deadline_kind_t *update_kind);

wasmtime_store_t *wasmtime_store_new(wasm_engine_t *engine, void *data, void (*finalizer)(void *));
void wasmtime_store_delete(wasmtime_store_t *store);
wasmtime_context_t *wasmtime_store_context(wasmtime_store_t *store);
void wasmtime_store_limiter(wasmtime_store_t *store, int64_t memory_size, int64_t table_elements,
                            int64_t instances, int64_t tables, int64_t memories);
void wasmtime_store_epoch_deadline_callback(wasmtime_store_t *store,
                                            wasmtime_epoch_deadline_callback_t callback,
                                            void *env, void (*finalizer)(void *));

void *wasmtime_context_get_data(const wasmtime_context_t *context);
wasmtime_error_t *wasmtime_context_set_fuel(wasmtime_context_t *context, uint64_t fuel);
wasmtime_error_t *wasmtime_context_get_fuel(const wasmtime_context_t *context, uint64_t *fuel);
// Takes ownership of the WASI configuration, even when it fails.
wasmtime_error_t *wasmtime_context_set_wasi(wasmtime_context_t *context, wasi_config_t *wasi);
void wasmtime_context_set_epoch_deadline(wasmtime_context_t *context, uint64_t ticks_beyond_current);

// MARK: Linking and instantiation (wasmtime/linker.h, wasmtime/instance.h, wasmtime/func.h)

typedef wasm_trap_t *(*wasmtime_func_callback_t)(void *env, wasmtime_caller_t *caller,
                                                 const wasmtime_val_t *args, size_t nargs,
                                                 wasmtime_val_t *results, size_t nresults);

wasmtime_linker_t *wasmtime_linker_new(wasm_engine_t *engine);
void wasmtime_linker_delete(wasmtime_linker_t *linker);
void wasmtime_linker_allow_shadowing(wasmtime_linker_t *linker, bool allow);
wasmtime_error_t *wasmtime_linker_define_wasi(wasmtime_linker_t *linker);
wasmtime_error_t *wasmtime_linker_define_func(wasmtime_linker_t *linker, const char *module,
                                              size_t module_length, const char *name,
                                              size_t name_length, const wasm_functype_t *type,
                                              wasmtime_func_callback_t callback, void *env,
                                              void (*finalizer)(void *));
wasmtime_error_t *wasmtime_linker_instantiate_pre(const wasmtime_linker_t *linker,
                                                  const wasmtime_module_t *module,
                                                  wasmtime_instance_pre_t **instance_pre);

void wasmtime_instance_pre_delete(wasmtime_instance_pre_t *instance_pre);
wasmtime_error_t *wasmtime_instance_pre_instantiate(const wasmtime_instance_pre_t *instance_pre,
                                                    wasmtime_context_t *context,
                                                    wasmtime_instance_t *instance,
                                                    wasm_trap_t **trap);
bool wasmtime_instance_export_get(wasmtime_context_t *context, const wasmtime_instance_t *instance,
                                  const char *name, size_t name_length, wasmtime_extern_t *item);

// Instantiates with imports given in the order the module declares them.
wasmtime_error_t *wasmtime_instance_new(wasmtime_context_t *store, const wasmtime_module_t *module,
                                       const wasmtime_extern_t *imports, size_t nimports,
                                       wasmtime_instance_t *instance, wasm_trap_t **trap);
bool wasmtime_linker_get(const wasmtime_linker_t *linker, wasmtime_context_t *store,
                         const char *module, size_t module_len, const char *name, size_t name_len,
                         wasmtime_extern_t *item);

wasmtime_error_t *wasmtime_func_call(wasmtime_context_t *context, const wasmtime_func_t *func,
                                     const wasmtime_val_t *args, size_t nargs,
                                     wasmtime_val_t *results, size_t nresults, wasm_trap_t **trap);

wasmtime_context_t *wasmtime_caller_context(wasmtime_caller_t *caller);
bool wasmtime_caller_export_get(wasmtime_caller_t *caller, const char *name, size_t name_length,
                                wasmtime_extern_t *item);

// MARK: Memories (wasmtime/memory.h)

uint8_t *wasmtime_memory_data(const wasmtime_context_t *context, const wasmtime_memory_t *memory);
size_t wasmtime_memory_data_size(const wasmtime_context_t *context, const wasmtime_memory_t *memory);

// MARK: WASI preview 1 (wasi.h)

typedef ptrdiff_t (*wasi_output_callback_t)(void *env, const unsigned char *bytes, size_t length);

wasi_config_t *wasi_config_new(void);
void wasi_config_delete(wasi_config_t *config);
bool wasi_config_set_argv(wasi_config_t *config, size_t argc, const char *argv[]);
bool wasi_config_set_env(wasi_config_t *config, size_t envc, const char *names[], const char *values[]);
// Takes ownership of the vector's buffer, which must come from wasm_byte_vec_new*.
void wasi_config_set_stdin_bytes(wasi_config_t *config, wasm_byte_vec_t *bytes);
void wasi_config_set_stdout_custom(wasi_config_t *config, wasi_output_callback_t callback,
                                   void *env, void (*finalizer)(void *));
void wasi_config_set_stderr_custom(wasi_config_t *config, wasi_output_callback_t callback,
                                   void *env, void (*finalizer)(void *));
bool wasi_config_preopen_dir(wasi_config_t *config, const char *host_path, const char *guest_path,
                             bool writable);

#ifdef __cplusplus
}
#endif

#endif
