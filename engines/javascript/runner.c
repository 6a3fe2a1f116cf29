// The JavaScript engine module of wasm-sandbox: QuickJS as a WASI reactor with the same shape as
// the Python engine's: the host gets a buffer from `host_alloc(length)`, writes UTF-8 source
// into it and calls `turn(pointer, length)`, which evaluates it in the instance's one global
// scope, then drains the job and timer queues. A stateless run is a fresh instance and one
// turn; a session is an instance kept alive and given one turn per call, so globals persist.
//
// `wizer.initialize` builds the runtime, the context and the globals (console, timers) once;
// the build snapshots the module right after it, so an instance starts with all of that in
// memory. Whatever must differ per instance (the Math.random seed, `scriptArgs`) is set by its
// first turn.
//
// `turn` returns the exit status: 0 when the script completes, 1 on an uncaught exception or
// unhandled rejection, 13 when top-level await never settles (as Node does). The completion
// value of the last turn is kept; `describe()` formats it as Node's REPL would and sends it to
// the host through `host.call` (sessions ask for it; stateless runs never pay for it), and
// returns a status as `turn` does.

#include <errno.h>
#include <math.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <wasi/api.h>

#include "quickjs.h"
#include "prelude.h"

// QuickJS measures its C stack against this limit and throws RangeError past it. It is
// kept below the module's shadow stack so deep recursion fails cleanly.
#define JS_STACK_LIMIT (1536 * 1024)

static JSRuntime *runtime;
static JSContext *context;
// Functions the prelude returns: they stay alive in the snapshot.
static JSValue report_error;
static JSValue run_timers;
static JSValue show_value;
static uint64_t random_state;
// Whether this instance has had its first turn (false in the snapshot).
static bool started;
// The completion value of the last turn, for describe().
static JSValue last_value;

// The host's channel, shared with the Python engine: request bytes in, optional reply out.
__attribute__((import_module("host"), import_name("call"))) int32_t host_call(const void *request, int32_t length,
                                                                              void **reply, int32_t *reply_length);

// The frame that carries a final expression's value to the host: this prefix, then UTF-8 text.
static const char value_frame[] = "\0wasm-sandbox:value\0";

// Rejected promises that have no handler yet. A handler attached later removes only its own
// promise, so one handled rejection never hides another. The list is bounded: past the cap,
// further rejections are only counted, and the run fails even if they are handled later
// (Node would already have ended the run at the first of them).
#define MAX_TRACKED_REJECTIONS 256
static struct {
    JSValue promise;
    JSValue reason;
} unhandled[MAX_TRACKED_REJECTIONS];
static int unhandled_count;
static bool untracked_rejection;
static JSValue untracked_reason;

static void write_all(int fd, const char *bytes, size_t length) {
    while (length > 0) {
        ssize_t written = write(fd, bytes, length);
        if (written <= 0) return;
        bytes += written;
        length -= (size_t)written;
    }
}

// __write(fd, text): the prelude's only way out.
static JSValue js_write(JSContext *ctx, JSValueConst this_val, int argc, JSValueConst *argv) {
    int fd = 1;
    size_t length;
    if (JS_ToInt32(ctx, &fd, argv[0])) return JS_EXCEPTION;
    const char *text = JS_ToCStringLen(ctx, &length, argv[1]);
    if (!text) return JS_EXCEPTION;
    write_all(fd == 2 ? 2 : 1, text, length);
    JS_FreeCString(ctx, text);
    return JS_UNDEFINED;
}

// The longest timer delay Node accepts (a signed 32-bit millisecond count).
#define MAX_SLEEP_MS 2147483647.0

// __sleep(ms): blocks in WASI poll_oneoff, which the sandbox ends at the run's deadline.
static JSValue js_sleep(JSContext *ctx, JSValueConst this_val, int argc, JSValueConst *argv) {
    double ms = 0;
    if (JS_ToFloat64(ctx, &ms, argv[0])) return JS_EXCEPTION;
    // The prelude already clamps delays; converting NaN or a value out of time_t's range
    // would be undefined behaviour, so this side never trusts it to.
    if (!(ms > 0)) return JS_UNDEFINED;
    if (ms > MAX_SLEEP_MS) ms = MAX_SLEEP_MS;
    double seconds = floor(ms / 1000);
    struct timespec duration = {(time_t)seconds, (long)((ms - seconds * 1000) * 1e6)};
    if (duration.tv_nsec > 999999999) duration.tv_nsec = 999999999;
    nanosleep(&duration, NULL);
    return JS_UNDEFINED;
}

// __now(): milliseconds on the monotonic clock, for timers.
static JSValue js_now(JSContext *ctx, JSValueConst this_val, int argc, JSValueConst *argv) {
    struct timespec now;
    clock_gettime(CLOCK_MONOTONIC, &now);
    return JS_NewFloat64(ctx, (double)now.tv_sec * 1e3 + (double)now.tv_nsec / 1e6);
}

// Math.random: xorshift64*, seeded from WASI randomness at the start of every run.
static JSValue js_random(JSContext *ctx, JSValueConst this_val, int argc, JSValueConst *argv) {
    random_state ^= random_state >> 12;
    random_state ^= random_state << 25;
    random_state ^= random_state >> 27;
    uint64_t bits = random_state * 0x2545F4914F6CDD1DULL;
    return JS_NewFloat64(ctx, (double)(bits >> 11) * 0x1.0p-53);
}

static JSModuleDef *refuse_import(JSContext *ctx, const char *name, void *opaque) {
    JS_ThrowTypeError(ctx, "cannot import '%s': modules are not available in the sandbox", name);
    return NULL;
}

static void track_rejection(JSContext *ctx, JSValueConst promise, JSValueConst reason, bool is_handled,
                            void *opaque) {
    if (is_handled) {
        for (int i = 0; i < unhandled_count; i++) {
            if (JS_VALUE_GET_PTR(unhandled[i].promise) != JS_VALUE_GET_PTR(promise)) continue;
            JS_FreeValue(ctx, unhandled[i].promise);
            JS_FreeValue(ctx, unhandled[i].reason);
            // Shifting keeps the oldest first: it is the one reported, as Node reports it.
            memmove(&unhandled[i], &unhandled[i + 1], (size_t)(unhandled_count - i - 1) * sizeof unhandled[0]);
            unhandled_count--;
            return;
        }
    } else if (unhandled_count < MAX_TRACKED_REJECTIONS) {
        unhandled[unhandled_count].promise = JS_DupValue(ctx, promise);
        unhandled[unhandled_count].reason = JS_DupValue(ctx, reason);
        unhandled_count++;
    } else if (!untracked_rejection) {
        untracked_rejection = true;
        untracked_reason = JS_DupValue(ctx, reason);
    }
}

// WasmKit, the sandbox's interpreter backend, cannot interrupt a guest from outside: it checks
// the run's deadline at each WASI call. QuickJS calls this handler every 10,000 operations and
// during long regular-expression matches, so reading the clock here gives that backend a
// regular check (a stopped run never returns from the call). Wasmtime interrupts by epoch and
// pays one cheap host call per 10,000 operations. The snapshot is taken before any turn, when
// there is no run to stop and WASI may not be called.
static int check_deadline(JSRuntime *rt, void *opaque) {
    (void)rt;
    (void)opaque;
    if (started) {
        __wasi_timestamp_t now;
        (void)__wasi_clock_time_get(__WASI_CLOCKID_MONOTONIC, 1, &now);
    }
    return 0;
}

static void initialize(void) {
    runtime = JS_NewRuntime();
    JS_SetMaxStackSize(runtime, JS_STACK_LIMIT);
    JS_SetInterruptHandler(runtime, check_deadline, NULL);
    JS_SetModuleLoaderFunc(runtime, NULL, refuse_import, NULL);
    JS_SetHostPromiseRejectionTracker(runtime, track_rejection, NULL);
    context = JS_NewContext(runtime);
    untracked_reason = JS_UNDEFINED;

    JSValue global = JS_GetGlobalObject(context);
    JSValue math = JS_GetPropertyStr(context, global, "Math");
    JS_SetPropertyStr(context, math, "random", JS_NewCFunction(context, js_random, "random", 0));
    JS_FreeValue(context, math);

    JSValue setup = JS_Eval(context, (const char *)prelude_js, prelude_js_len, "<prelude>", JS_EVAL_TYPE_GLOBAL);
    JSValue host[3] = {
        JS_NewCFunction(context, js_write, "write", 2),
        JS_NewCFunction(context, js_sleep, "sleep", 1),
        JS_NewCFunction(context, js_now, "now", 0),
    };
    JSValue hooks = JS_Call(context, setup, global, 3, host);
    if (JS_IsException(hooks)) {
        fputs("wasm-sandbox: the JavaScript prelude failed\n", stderr);
        abort();
    }
    report_error = JS_GetPropertyStr(context, hooks, "reportError");
    run_timers = JS_GetPropertyStr(context, hooks, "runTimers");
    show_value = JS_GetPropertyStr(context, hooks, "show");
    last_value = JS_UNDEFINED;
    for (int i = 0; i < 3; i++) JS_FreeValue(context, host[i]);
    JS_FreeValue(context, hooks);
    JS_FreeValue(context, setup);
    JS_FreeValue(context, global);
}

__attribute__((export_name("wizer.initialize"))) void wizer_initialize(void) { initialize(); }

static void report(JSValueConst error, const char *prefix) {
    JSValue prefix_value = JS_NewString(context, prefix);
    JSValue args[2] = {error, prefix_value};
    JS_FreeValue(context, JS_Call(context, report_error, JS_UNDEFINED, 2, args));
    JS_FreeValue(context, prefix_value);
}

static void report_exception(void) {
    JSValue error = JS_GetException(context);
    report(error, "");
    JS_FreeValue(context, error);
}

// Whether a line of the source starts with an import statement: scripts cannot import, and
// QuickJS's own syntax error for it ("Unexpected identifier") would not say why.
static bool has_import_statement(const char *source) {
    for (const char *line = source; line && *line; line = strchr(line, '\n'), line = line ? line + 1 : NULL) {
        while (*line == ' ' || *line == '\t') line++;
        if (strncmp(line, "import", 6) == 0 && (line[6] == ' ' || line[6] == '{' || line[6] == '*' ||
                                                  line[6] == '"' || line[6] == '\'')) return true;
    }
    return false;
}

static bool is_syntax_error(JSValueConst error) {
    JSValue name = JS_GetPropertyStr(context, error, "name");
    const char *text = JS_ToCString(context, name);
    bool syntax = text && strcmp(text, "SyntaxError") == 0;
    JS_FreeCString(context, text);
    JS_FreeValue(context, name);
    return syntax;
}

// Runs promise jobs until none is left, then the earliest due timer, until neither is left.
// Returns false when a job failed in a way QuickJS reports as an exception.
static bool drain(void) {
    for (;;) {
        JSContext *job_context;
        int status;
        while ((status = JS_ExecutePendingJob(runtime, &job_context)) > 0) {}
        if (status < 0) return false;
        JSValue ran = JS_Call(context, run_timers, JS_UNDEFINED, 0, NULL);
        if (JS_IsException(ran)) return false;
        bool more = JS_ToBool(context, ran);
        JS_FreeValue(context, ran);
        if (!more) return true;
    }
}

// Sets what differs per instance: the Math.random seed and `scriptArgs` (WASI's argv after
// the program name; a reactor's libc reads no arguments itself).
static void start_instance(void) {
    started = true;
    if (getentropy(&random_state, sizeof random_state) != 0 || random_state == 0) random_state = 0x9E3779B97F4A7C15ULL;
    JSValue args = JS_NewArray(context);
    __wasi_size_t count = 0, size = 0;
    if (__wasi_args_sizes_get(&count, &size) == 0 && count > 1) {
        char **argv = malloc(count * sizeof(char *));
        char *buffer = malloc(size);
        if (argv && buffer && __wasi_args_get((uint8_t **)argv, (uint8_t *)buffer) == 0) {
            for (__wasi_size_t i = 1; i < count; i++)
                JS_SetPropertyUint32(context, args, (uint32_t)(i - 1), JS_NewString(context, argv[i]));
        }
        free(argv);
        free(buffer);
    }
    JSValue global = JS_GetGlobalObject(context);
    JS_SetPropertyStr(context, global, "scriptArgs", args);
    JS_FreeValue(context, global);
}

// Forgets rejections reported by a turn, so that the next turn of a session starts clean.
static void clear_rejections(void) {
    for (int i = 0; i < unhandled_count; i++) {
        JS_FreeValue(context, unhandled[i].promise);
        JS_FreeValue(context, unhandled[i].reason);
    }
    unhandled_count = 0;
    if (untracked_rejection) JS_FreeValue(context, untracked_reason);
    untracked_rejection = false;
    untracked_reason = JS_UNDEFINED;
}

// Ends a turn: a rejection still unhandled fails it (when nothing else did), and is then
// forgotten, so that the next turn of a session starts clean.
static int32_t settle(int32_t status) {
    if (status == 0 && unhandled_count > 0) {
        report(unhandled[0].reason, "Uncaught (in promise) ");
        status = 1;
    } else if (status == 0 && untracked_rejection) {
        report(untracked_reason, "Uncaught (in promise) ");
        status = 1;
    }
    clear_rejections();
    return status;
}

static void keep_value(JSValue value) {
    JS_FreeValue(context, last_value);
    last_value = value;
}

// A buffer for `turn`'s source: one byte longer than asked, since QuickJS wants the source
// NUL-terminated. `turn` frees it.
__attribute__((export_name("host_alloc"))) char *host_alloc(int32_t length) {
    return length < 0 ? NULL : malloc((size_t)length + 1);
}

static int32_t evaluate(char *source, int32_t length) {
    source[length] = 0;
    JSValue result = JS_Eval(context, source, (size_t)length, "<script>", JS_EVAL_TYPE_GLOBAL | JS_EVAL_FLAG_ASYNC);
    if (JS_IsException(result)) {
        JSValue error = JS_GetException(context);
        if (is_syntax_error(error) && has_import_statement(source)) {
            fputs("SyntaxError: import statements are not supported: the sandbox runs scripts, without modules\n",
                  stderr);
        } else {
            report(error, "");
        }
        JS_FreeValue(context, error);
        return 1;
    }
    if (!drain()) {
        JS_FreeValue(context, result);
        report_exception();
        return 1;
    }
    int32_t status = 0;
    switch (JS_PromiseState(context, result)) {
    case JS_PROMISE_REJECTED: {
        JSValue reason = JS_PromiseResult(context, result);
        report(reason, "");
        JS_FreeValue(context, reason);
        status = 1;
        break;
    }
    case JS_PROMISE_PENDING:
        fputs("Warning: the script's top-level await never settled: no pending jobs or timers are left\n", stderr);
        status = 13;
        break;
    default: {
        // An async script's promise resolves to { value: <the completion value> }.
        JSValue completion = JS_PromiseResult(context, result);
        keep_value(JS_GetPropertyStr(context, completion, "value"));
        JS_FreeValue(context, completion);
        break;
    }
    }
    JS_FreeValue(context, result);
    return settle(status);
}

// Evaluates `length` bytes of UTF-8 source at `source` (from host_alloc) in the global scope.
__attribute__((export_name("turn"))) int32_t turn(char *source, int32_t length) {
    if (!context) initialize();
    JS_UpdateStackTop(runtime);
    if (!started) start_instance();
    keep_value(JS_UNDEFINED);
    if (!source || length < 0) return 1;
    int32_t status = evaluate(source, length);
    free(source);
    return status;
}

// Sends the last turn's completion value, formatted as Node's REPL shows it, to the host.
// Formatting may run the script's own code (getters are not called, but Proxy traps are):
// whatever jobs, timers or rejections that code leaves are settled here, in the same call,
// as a turn settles its own. Returns the exit status, as `turn` does.
__attribute__((export_name("describe"))) int32_t describe(void) {
    if (JS_IsUndefined(last_value)) return 0;
    JS_UpdateStackTop(runtime);
    JSValue text = JS_Call(context, show_value, JS_UNDEFINED, 1, (JSValueConst *)&last_value);
    if (JS_IsException(text)) {
        JS_FreeValue(context, JS_GetException(context));
        text = JS_NewString(context, "[the value could not be shown: formatting it threw]");
    }
    size_t length = 0;
    const char *bytes = JS_ToCStringLen(context, &length, text);
    JS_FreeValue(context, text);
    if (bytes) {
        size_t prefix = sizeof value_frame - 1;
        char *frame = malloc(prefix + length);
        if (frame) {
            memcpy(frame, value_frame, prefix);
            memcpy(frame + prefix, bytes, length);
            void *reply = NULL;
            int32_t reply_length = 0;
            host_call(frame, (int32_t)(prefix + length), &reply, &reply_length);
            free(frame);
        }
        JS_FreeCString(context, bytes);
    }
    if (!drain()) {
        report_exception();
        return settle(1);
    }
    return settle(0);
}
