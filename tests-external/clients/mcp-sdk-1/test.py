"""wasm-sandbox serve with the official MCP Python SDK 1.x (mcp==1.30.0) as the client, over stdio;
also runs the README's JSON config snippets (claude-desktop, cursor), the claude-code command line and the
mcp-sdk Python snippet. Run by scripts/client-tests.sh: python test.py BINARY
"""
import asyncio
import json
import os
import shlex
import subprocess
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
import common  # noqa: E402
from common import check  # noqa: E402

from mcp import ClientSession, StdioServerParameters, types  # noqa: E402
from mcp.client.stdio import stdio_client  # noqa: E402
from mcp.shared.exceptions import McpError  # noqa: E402

CLIENT = "mcp-sdk-1"


def adapters(session):
    async def call(name, arguments, **kwargs):
        try:
            return common.wire(await session.call_tool(name, arguments, **kwargs))
        except McpError as error:
            return {"jsonrpc_error": str(error)}

    async def read(uri):
        return common.wire(await session.read_resource(uri))["contents"]

    async def list_tools():
        return common.wire(await session.list_tools())["tools"]

    return call, read, list_tools


async def main():
    params = StdioServerParameters(command=common.binary(), args=common.SERVE_ARGS)
    async with stdio_client(params) as (read_stream, write_stream):
        async with ClientSession(read_stream, write_stream) as session:
            info = await session.initialize()
            check("initialize", info.serverInfo.name == "wasm-sandbox", info)
            call, read, list_tools = adapters(session)
            await common.standard_checks(CLIENT, call, read, list_tools)
            await progress(session)
            await cancellation(session, call)
    await snippets()


async def progress(session):
    updates = []

    async def on_progress(value, total, message):
        updates.append(value)

    result = await session.call_tool(
        "execute_code", {"language": "python", "code": "import time\nt = time.time()\nwhile time.time() - t < 2.5: pass"},
        progress_callback=on_progress)
    check("progress notifications while running", not result.isError and len(updates) >= 1, (updates, result))


async def cancellation(session, call):
    # SDK 1.x does not send notifications/cancelled when a call is abandoned: give up on the call (wait_for
    # cancels it) and send the notification for its request id, the session's counter before the call.
    before = ((await call("sandbox_metrics", {})).get("structuredContent") or {}).get("by_status", {}).get("cancelled", 0)
    request_id = session._request_id
    task = asyncio.ensure_future(session.call_tool(
        "execute_code", {"language": "python", "code": common.ENDLESS_PYTHON, "timeout_ms": 10000}))
    await asyncio.sleep(1.0)
    task.cancel()
    try:
        await task
        check("cancel: the endless run did not return", False, task.result())
    except asyncio.CancelledError:
        pass
    await session.send_notification(types.ClientNotification(types.CancelledNotification(
        params=types.CancelledNotificationParams(requestId=request_id, reason="test gave up"))))
    in_flight, elapsed, metrics = await common.wait_idle(call)
    check("cancel: run stopped, nothing in flight", in_flight == 0 and elapsed < 10, (in_flight, elapsed))
    check("cancel: counted as cancelled", metrics.get("by_status", {}).get("cancelled", 0) > before, metrics)
    after = await call("execute_code", {"language": "javascript", "code": "console.log('after')"})
    check("cancel: next call works", (after.get("structuredContent") or {}).get("stdout") == "after\n", after)
    await asyncio.sleep(0.5)  # a late response for the cancelled id would arrive now; the session must survive it
    after = await call("execute_code", {"language": "javascript", "code": "console.log('still')"})
    check("cancel: session still healthy", (after.get("structuredContent") or {}).get("stdout") == "still\n", after)


async def call_through(name, command, args, env=None):
    """Launch a server the way a config snippet says and run one program through it."""
    environment = dict(os.environ) if env is None else {**os.environ, **env}
    params = StdioServerParameters(command=command, args=args, env=environment)
    try:
        async with stdio_client(params) as (read_stream, write_stream):
            async with ClientSession(read_stream, write_stream) as session:
                await session.initialize()
                result = await session.call_tool("execute_code", {"language": "python", "code": "print(6*7)"})
                check(f"snippet {name}: call works",
                      not result.isError and (result.structuredContent or {}).get("stdout") == "42\n", result)
    except Exception as error:  # noqa: BLE001 - reported as a failed check
        check(f"snippet {name}: call works", False, repr(error))


async def snippets():
    binary = common.binary()
    for name in ["claude-desktop", "cursor"]:
        try:
            config = json.loads(common.snippet(name))
            servers = config["mcpServers"]
            entry = servers["wasm-sandbox"]
            check(f"snippet {name}: names the binary", entry["command"] == binary, entry)
            await call_through(name, entry["command"], entry.get("args", []), entry.get("env"))
        except Exception as error:  # noqa: BLE001
            check(f"snippet {name}: parses", False, repr(error))
    try:
        line = next(line for line in common.snippet("claude-code").splitlines()
                    if line.strip().startswith("claude mcp add"))
        words = shlex.split(line)
        command = words[words.index("--") + 1:]
        check("snippet claude-code: names the binary", command[0] == binary, words)
        await call_through("claude-code", command[0], command[1:])
    except Exception as error:  # noqa: BLE001
        check("snippet claude-code: parses", False, repr(error))
    # The Python snippet runs as a script, as a user would run it.
    try:
        run = subprocess.run([sys.executable, "-c", common.snippet("mcp-sdk")], capture_output=True, text=True,
                             timeout=120)
        check("snippet mcp-sdk runs", run.returncode == 0 and "42" in run.stdout, (run.returncode, run.stdout,
                                                                                  run.stderr[-2000:]))
    except Exception as error:  # noqa: BLE001
        check("snippet mcp-sdk runs", False, repr(error))


if __name__ == "__main__":
    asyncio.run(main())
    sys.exit(common.finish(CLIENT))
