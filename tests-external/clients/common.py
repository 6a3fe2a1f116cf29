"""Shared helpers for the external MCP client tests in tests-external/clients/<client>/test.py.

Each test runs in its own virtual environment (scripts/client-tests.sh) as `python test.py BINARY`
and must not import anything beyond the standard library from here. Stable API:
  binary()          absolute path of the server binary (argv[1], default .build/debug/wasm-sandbox)
  SERVE_ARGS        arguments after the binary that start the MCP server over stdio
  check(name, cond, detail="")   count one check; prints FAIL lines
  finish(client)    print the summary line, return the exit code (0 only when nothing failed)
  snippet(name, substitute=True) the fenced code block between README.md's snippet markers,
                    with /path/to/wasm-sandbox replaced by binary() unless substitute=False
  status_of(text)   the `status: X` of an execute_code result text, or None
  WAT_HELLO, WASM_BASE64, PLACEHOLDER
Shared check helpers (each client passes its own call functions): adapters, standard_checks,
progress_checks, cancel_checks (MCP-level clients), mcp_sdk_checks (the MCP SDK as the client), agent_cancel_checks (agent frameworks),
run_snippet_script, exec_snippet, stdout_in.
"""
import asyncio
import base64
import os
import subprocess
import re
import sys

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
README = os.path.join(ROOT, "README.md")
PLACEHOLDER = "/path/to/wasm-sandbox"
SERVE_ARGS = ["serve", "--max-timeout-ms", "10000", "--log-level", "error"]

passed = 0
failed = 0


def binary():
    path = sys.argv[1] if len(sys.argv) > 1 else os.path.join(ROOT, ".build", "debug", "wasm-sandbox")
    return os.path.abspath(path)


def check(name, condition, detail=""):
    global passed, failed
    if condition:
        passed += 1
    else:
        failed += 1
        text = repr(detail)
        if len(text) > 1500:
            text = text[:1500] + "..."
        print(f"FAIL {name}: {text}", flush=True)
    return bool(condition)


def finish(client):
    print(f"{client}: {passed} passed, {failed} failed", flush=True)
    return 0 if failed == 0 and passed > 0 else 1


def snippet(name, substitute=True):
    with open(README, encoding="utf-8") as handle:
        readme = handle.read()
    match = re.search(r"<!-- snippet:%s -->(.*?)<!-- /snippet:%s -->" % (re.escape(name), re.escape(name)),
                      readme, re.S)
    if not match:
        raise LookupError(f"README.md has no snippet markers for {name!r}")
    block = re.search(r"^```[^\n]*\n(.*?)^```", match.group(1), re.S | re.M)
    if not block:
        raise LookupError(f"README.md snippet {name!r} has no fenced code block")
    code = block.group(1)
    return code.replace(PLACEHOLDER, binary()) if substitute else code


def status_of(text):
    match = re.match(r"status: (\w+)", text or "")
    return match.group(1) if match else None


# Prints "hi from wat\n" through WASI fd_write.
WAT_HELLO = """(module
  (import "wasi_snapshot_preview1" "fd_write" (func $fd_write (param i32 i32 i32 i32) (result i32)))
  (memory (export "memory") 1)
  (data (i32.const 16) "hi from wat\\n")
  (func (export "_start")
    (i32.store (i32.const 0) (i32.const 16))
    (i32.store (i32.const 4) (i32.const 12))
    (drop (call $fd_write (i32.const 1) (i32.const 0) (i32.const 1) (i32.const 8)))))"""
WAT_HELLO_STDOUT = "hi from wat\n"

# (module (memory (export "memory") 1) (func (export "_start"))), binary, base64.
WASM_BASE64 = base64.b64encode(bytes.fromhex(
    "0061736d01000000"
    "010401600000"
    "03020100"
    "0503010001"
    "071302066d656d6f7279020006" "5f737461727400" "00"
    "0a040102000b")).decode()

# (module (func (export "_start") unreachable)), binary, base64: traps with `unreachable`.
WASM_TRAP_BASE64 = base64.b64encode(bytes.fromhex(
    "0061736d01000000"
    "010401600000"
    "03020100"
    "070a01065f737461727400" "00"
    "0a050103" "00000b")).decode()

TOOL_NAMES = ["execute_code", "sandbox_health", "sandbox_metrics", "list_sessions", "reset_session",
              "close_session"]
MATPLOTLIB_CODE = "import matplotlib.pyplot as plt\nplt.plot([1, 2, 3])\nplt.savefig('/workspace/plot.png')\n"
RESOURCE_BYTES = bytes(range(256)) * 4
RESOURCE_CODE = ("open('/workspace/data.bin', 'wb').write(bytes(range(256)) * 4)\n"
                 "open('/workspace/note.txt', 'w').write('hello resource\\n')\n")
ENDLESS_PYTHON = "while True:\n    pass\n"
# The same figure, with the Agg backend chosen explicitly (as the agent-framework tests send it).
MATPLOTLIB_AGG_CODE = ("import matplotlib\nmatplotlib.use('Agg')\nimport matplotlib.pyplot as plt\n"
                       "plt.plot([1, 2, 3])\nplt.savefig('/workspace/plot.png')")
PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
# (language, code, expected stdout) for the "<language> runs" checks; the wasm module prints nothing.
LANGUAGE_RUNS = [("javascript", "console.log(6*7)", "42\n"), ("python", "print(6*7)", "42\n"),
                 ("wat", WAT_HELLO, WAT_HELLO_STDOUT), ("wasm", WASM_BASE64, "")]


def wire(obj):
    """A result model (any SDK version) as its JSON wire form: camelCase keys, None dropped."""
    if hasattr(obj, "model_dump"):
        return obj.model_dump(by_alias=True, mode="json", exclude_none=True)
    return obj


def text_of(result):
    """The first text content item of a wire-form CallToolResult."""
    for item in result.get("content") or []:
        if item.get("type") == "text":
            return item.get("text", "")
    return ""


def items_of(result, kind):
    return [item for item in result.get("content") or [] if item.get("type") == kind]


def resource_bytes(contents):
    """Bytes of the first item of a wire-form resources/read result's contents."""
    item = contents[0]
    if "blob" in item:
        return base64.b64decode(item["blob"])
    return item.get("text", "").encode()


def schema_allows_null(schema):
    if schema.get("type") == "null" or (isinstance(schema.get("type"), list) and "null" in schema["type"]):
        return True
    return any(schema_allows_null(option) for option in schema.get("anyOf", []) + schema.get("oneOf", []))


async def standard_checks(prefix, call, read, list_tools):
    """Checks every MCP-level client runs. Adapters (all async, all wire-form dicts):
    call(name, arguments) -> CallToolResult dict, or {"jsonrpc_error": message} for a JSON-RPC error;
    read(uri) -> list of resource contents dicts; list_tools() -> list of tool dicts."""
    def c(name, condition, detail=""):
        return check(f"{prefix}: {name}", condition, detail)

    tools = await list_tools()
    c("tools/list", [tool["name"] for tool in tools] == TOOL_NAMES, [tool["name"] for tool in tools])
    schema = next((tool.get("inputSchema") for tool in tools if tool["name"] == "execute_code"), {}) or {}
    properties = schema.get("properties", {})
    env = properties.get("env", {})
    env_item = next((option.get("items") for option in [env] + env.get("anyOf", []) if option.get("items")), None)
    c("schema: env is a list of {name, value}",
      env_item is not None and set(env_item.get("properties", {})) == {"name", "value"}, env)
    optional = [name for name in properties if name not in ("language", "code")]
    c("schema: every optional argument accepts null",
      optional and all(schema_allows_null(properties[name]) for name in optional),
      [name for name in optional if not schema_allows_null(properties[name])])

    async def run(arguments):
        return await call("execute_code", arguments)

    for language, code, expected in LANGUAGE_RUNS:
        result = await run({"language": language, "code": code})
        structured = result.get("structuredContent") or {}
        c(f"{language} runs", result.get("isError") is False and structured.get("stdout") == expected
          and status_of(text_of(result)) == "ok", result)

    result = await run({"language": "python", "code": "print('nulls')", "stdin": None, "args": None, "env": None,
                        "files": None, "timeout_ms": None, "memory_mb": None, "fuel": None, "session_id": None})
    c("null optional arguments", not result.get("isError") and
      (result.get("structuredContent") or {}).get("stdout") == "nulls\n", result)
    result = await run({"language": "python", "code": "import os, sys\nprint(os.environ['GREETING'], sys.argv[1:])",
                        "env": [{"name": "GREETING", "value": "hi"}], "args": ["a", "b"]})
    c("env as a list", (result.get("structuredContent") or {}).get("stdout") == "hi ['a', 'b']\n", result)

    failing = await run({"language": "python", "code": "raise ValueError('boom')"})
    text = text_of(failing)
    c("failing program is a normal result", failing.get("isError") is False and status_of(text) == "exited"
      and "ValueError: boom" in text and (failing.get("structuredContent") or {}).get("exit_code") == 1, failing)
    trapped = await run({"language": "wasm", "code": WASM_TRAP_BASE64})
    c("trap is a normal result naming the trap", trapped.get("isError") is False
      and status_of(text_of(trapped)) == "trapped" and "unreachable" in text_of(trapped), trapped)

    for arguments, message in [({"language": "cobol", "code": "x"}, "unknown language 'cobol'"),
                               ({"language": "python"}, "missing argument 'code'")]:
        bad = await run(arguments)
        c(f"invalid arguments are a tool error: {message}", bad.get("isError") is True and message in text_of(bad),
          bad)
    unknown = await call("no_such_tool", {})
    c("unknown tool is a JSON-RPC error", "jsonrpc_error" in unknown, unknown)

    long = await run({"language": "python", "code": "print('x' * 50000)"})
    c("long stdout cut in the text, whole in structuredContent",
      len(text_of(long)) < 25000 and len((long.get("structuredContent") or {}).get("stdout", "")) == 50001,
      (len(text_of(long)), len((long.get("structuredContent") or {}).get("stdout", ""))))

    image = await run({"language": "python", "code": MATPLOTLIB_CODE})
    images = items_of(image, "image")
    c("image content", image.get("isError") is False and images and images[0].get("mimeType") == "image/png"
      and base64.b64decode(images[0].get("data", ""))[:8] == b"\x89PNG\r\n\x1a\n",
      [dict(item, data=item.get("data", "")[:20]) for item in image.get("content", [])])
    figure = await run({"language": "python", "code": "import matplotlib.pyplot as plt\nplt.plot([3, 1])\n"})
    c("open figure comes back as an image", any(item.get("mimeType") == "image/png"
                                                for item in items_of(figure, "image")), text_of(figure))

    written = await run({"language": "python", "code": RESOURCE_CODE})
    links = {link.get("name"): link for link in items_of(written, "resource_link")}
    data_link = next((link for name, link in links.items() if name.endswith("data.bin")), None)
    note_link = next((link for name, link in links.items() if name.endswith("note.txt")), None)
    c("resource_link items", data_link and note_link and re.match(r"[a-z][a-z0-9+.-]*://", data_link.get("uri", ""))
      and data_link.get("mimeType") and note_link.get("mimeType", "").startswith("text/"), written.get("content"))
    if data_link and note_link:
        try:
            data = resource_bytes(await read(data_link["uri"]))
            note = resource_bytes(await read(note_link["uri"]))
            c("resources/read returns the files", data == RESOURCE_BYTES and note == b"hello resource\n",
              (data[:16], note))
        except Exception as error:  # noqa: BLE001 - reported as a failed check
            c("resources/read returns the files", False, repr(error))

    unchanged = await run({"language": "python", "code": "print(open('/workspace/in.txt').read())",
                           "files": [{"name": "in.txt", "text": "input"}]})
    c("input files are not sent back", (unchanged.get("structuredContent") or {}).get("stdout") == "input\n"
      and not [link for link in items_of(unchanged, "resource_link") if "in.txt" in link.get("uri", "")],
      unchanged)

    first = await run({"language": "javascript", "session_id": "ext", "code": "let a = 40"})
    second = await run({"language": "javascript", "session_id": "ext", "code": "a + 2"})
    c("session keeps state", not first.get("isError") and
      (second.get("structuredContent") or {}).get("value") == "42" and "value:" in text_of(second), second)
    await call("close_session", {"session_id": "ext"})


def stdout_in(text):
    """The stdout section of an execute_code result text, or None."""
    match = re.search(r"^stdout:\n(.*?)(?=^\w+:|\Z)", text or "", re.S | re.M)
    return match.group(1) if match else None


def _items(result, key):
    """A result model's `key` list in wire form, or each item of a list in wire form."""
    if isinstance(result, list):
        return [wire(item) for item in result]
    return wire(result)[key]


def adapters(call_tool, read_resource, list_tools, errors):
    """The standard_checks adapters for a client's own async calls: call_tool(name, arguments, **kwargs),
    read_resource(uri) and list_tools() (each a result model or a list of items); `errors` are the
    exception types of a JSON-RPC error."""
    async def call(name, arguments, **kwargs):
        try:
            return wire(await call_tool(name, arguments, **kwargs))
        except errors as error:
            return {"jsonrpc_error": str(error)}

    async def read(uri):
        return _items(await read_resource(uri), "contents")

    async def tools():
        return _items(await list_tools(), "tools")

    return call, read, tools


async def progress_checks(call_with_progress):
    """call_with_progress(name, arguments, on_progress) -> CallToolResult: the client's call with a progress
    callback on_progress(value, total, message)."""
    updates = []

    async def on_progress(value, total, message):
        updates.append(value)

    result = await call_with_progress(
        "execute_code", {"language": "python", "code": "import time\nt = time.time()\nwhile time.time() - t < 2.5: pass"},
        on_progress)
    check("progress notifications while running", not wire(result).get("isError") and len(updates) >= 1,
          (updates, result))


def cancelled_count(metrics):
    return (metrics or {}).get("by_status", {}).get("cancelled", 0)


async def cancel_checks(call, start, after_cancel=None, holder="session"):
    """Abandon an endless run and check the server stops it. start(arguments) -> the client's call_tool
    coroutine for execute_code (run as a task, cancelled after a second); after_cancel() runs next (for a
    client that sends notifications/cancelled by hand); `holder` names what must stay healthy."""
    before = cancelled_count(await metrics_via(call)())
    task = asyncio.ensure_future(start({"language": "python", "code": ENDLESS_PYTHON, "timeout_ms": 10000}))
    await asyncio.sleep(1.0)
    task.cancel()
    try:
        await task
        check("cancel: the endless run did not return", False, task.result())
    except asyncio.CancelledError:
        pass
    except Exception as error:  # noqa: BLE001
        check("cancel: cancelling the call", False, repr(error))
    if after_cancel is not None:
        await after_cancel()
    in_flight, elapsed, metrics = await wait_idle(metrics_via(call))
    check("cancel: run stopped, nothing in flight", in_flight == 0 and elapsed < 10, (in_flight, elapsed))
    check("cancel: counted as cancelled", cancelled_count(metrics) > before, metrics)
    after = await call("execute_code", {"language": "javascript", "code": "console.log('after')"})
    check("cancel: next call works", (after.get("structuredContent") or {}).get("stdout") == "after\n", after)
    await asyncio.sleep(0.5)  # a late response for the cancelled id would arrive now; the client must survive it
    after = await call("execute_code", {"language": "javascript", "code": "console.log('still')"})
    check(f"cancel: {holder} still healthy", (after.get("structuredContent") or {}).get("stdout") == "still\n",
          after)


async def agent_cancel_checks(metrics, start, what, after_cancel=None):
    """Cancel an agent framework's endless run once the server has it in flight and check the server stops it
    well before its own 10 s timeout. metrics() -> sandbox_metrics structured content; start(arguments) -> the
    framework's coroutine running execute_code; `what` names the cancelled thing; after_cancel() runs half a
    second after the cancel (for a client that may have to send notifications/cancelled itself)."""
    before = cancelled_count(await metrics())
    started = asyncio.get_running_loop().time()
    task = asyncio.create_task(start({"language": "python", "code": "while True: pass", "timeout_ms": 10000}))
    busy = None
    for _ in range(100):
        await asyncio.sleep(0.05)
        busy = (await metrics()).get("in_flight")
        if busy == 1:
            break
    check("cancel: endless run started", busy == 1, busy)
    task.cancel()
    try:
        outcome = await task
        check(f"cancel: {what} cancelled", False, outcome)
    except asyncio.CancelledError:
        pass
    if after_cancel is not None:
        await asyncio.sleep(0.5)
        await after_cancel()
    count, elapsed, state = await wait_idle(metrics, started=started, interval=0.1)
    check("cancel: run stopped (in_flight 0 before the 10 s timeout)", count == 0 and elapsed < 8,
          (count, elapsed))
    after = cancelled_count(await metrics())
    check("cancel: counted as cancelled", after > before, (before, after, state))
    await asyncio.sleep(0.5)  # room for a late response, which must not break the client


async def mcp_sdk_checks(client, mcp, errors, cancellation=None):
    """Every check of a client that is the official MCP Python SDK itself (`mcp`, the module of any version),
    over stdio: initialize, standard_checks, progress_checks, then cancellation(session, call) (default:
    cancel_checks relying on the SDK to send notifications/cancelled for an abandoned call)."""
    params = mcp.StdioServerParameters(command=binary(), args=SERVE_ARGS)
    async with mcp.stdio_client(params) as (read_stream, write_stream):
        async with mcp.ClientSession(read_stream, write_stream) as session:
            info = await session.initialize()
            check("initialize", wire(info).get("serverInfo", {}).get("name") == "wasm-sandbox", info)
            call, read, list_tools = adapters(session.call_tool, session.read_resource, session.list_tools, errors)
            await standard_checks(client, call, read, list_tools)
            await progress_checks(lambda name, arguments, on_progress: session.call_tool(
                name, arguments, progress_callback=on_progress))
            if cancellation is not None:
                await cancellation(session, call)
            else:
                await cancel_checks(call, lambda arguments: session.call_tool("execute_code", arguments))


def metrics_via(call):
    """metrics() -> sandbox_metrics structured content, through a standard_checks call adapter."""
    async def metrics():
        return (await call("sandbox_metrics", {})).get("structuredContent") or {}
    return metrics


async def wait_idle(metrics, seconds=10, started=None, interval=0.05):
    """Polls metrics() until nothing is in flight, at most `seconds` after `started` (loop time, default now);
    returns (in_flight, elapsed, metrics)."""
    loop = asyncio.get_running_loop()
    started = loop.time() if started is None else started
    state = {}
    while loop.time() - started < seconds:
        state = await metrics()
        if state.get("in_flight") == 0:
            break
        await asyncio.sleep(interval)
    return state.get("in_flight"), loop.time() - started, state


async def run_snippet_script(name):
    """Check that README snippet `name` runs as a Python script, as a user would run it, and prints 42."""
    try:
        run = await asyncio.to_thread(subprocess.run, [sys.executable, "-c", snippet(name)], capture_output=True,
                                      text=True, timeout=120)
        check(f"snippet {name} runs", run.returncode == 0 and "42" in run.stdout,
              (run.returncode, run.stdout, run.stderr[-2000:]))
    except Exception as error:  # noqa: BLE001
        check(f"snippet {name} runs", False, repr(error))


def exec_snippet(name, **kinds):
    """Exec README snippet `name` and check it defines each variable of `kinds` (variable=type). Returns the
    variables' values in the order given, or None if the snippet does not run."""
    namespace = {}
    try:
        exec(compile(snippet(name), f"README snippet {name}", "exec"), namespace)
    except Exception as exc:
        check("snippet runs", False, exc)
        return None
    values = tuple(namespace.get(variable) for variable in kinds)
    check("snippet defines " + " and ".join(kinds),
          all(isinstance(value, kind) for value, kind in zip(values, kinds.values())), values)
    return values
