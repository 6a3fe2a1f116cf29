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
"""
import base64
import os
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

    for language, code, expected in [("javascript", "console.log(6*7)", "42\n"), ("python", "print(6*7)", "42\n"),
                                     ("wat", WAT_HELLO, WAT_HELLO_STDOUT), ("wasm", WASM_BASE64, "")]:
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


async def wait_idle(call, seconds=10):
    """Polls sandbox_metrics until nothing is in flight; returns (in_flight, elapsed, metrics)."""
    import asyncio
    loop = asyncio.get_running_loop()
    started = loop.time()
    metrics = {}
    while loop.time() - started < seconds:
        metrics = (await call("sandbox_metrics", {})).get("structuredContent") or {}
        if metrics.get("in_flight") == 0:
            break
        await asyncio.sleep(0.05)
    return metrics.get("in_flight"), loop.time() - started, metrics
