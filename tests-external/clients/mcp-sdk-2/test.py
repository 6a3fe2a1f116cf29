"""wasm-sandbox serve with the official MCP Python SDK 2.x (mcp==2.3.0) as the client, over stdio;
also runs the README's mcp-sdk Python snippet. Run by scripts/client-tests.sh: python test.py BINARY
"""
import asyncio
import os
import subprocess
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
import common  # noqa: E402
from common import check  # noqa: E402

from mcp import ClientSession, StdioServerParameters  # noqa: E402
from mcp.client.stdio import stdio_client  # noqa: E402
from mcp.shared.exceptions import MCPError  # noqa: E402

CLIENT = "mcp-sdk-2"


def adapters(session):
    async def call(name, arguments, **kwargs):
        try:
            return common.wire(await session.call_tool(name, arguments, **kwargs))
        except MCPError as error:
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
            check("initialize", info.server_info.name == "wasm-sandbox", info)
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
    check("progress notifications while running", not result.is_error and len(updates) >= 1, (updates, result))


async def cancellation(session, call):
    # SDK 2.x sends notifications/cancelled by itself when the caller abandons a request (cancelled task).
    before = ((await call("sandbox_metrics", {})).get("structuredContent") or {}).get("by_status", {}).get("cancelled", 0)
    task = asyncio.ensure_future(session.call_tool(
        "execute_code", {"language": "python", "code": common.ENDLESS_PYTHON, "timeout_ms": 10000}))
    await asyncio.sleep(1.0)
    task.cancel()
    try:
        await task
        check("cancel: the endless run did not return", False, task.result())
    except asyncio.CancelledError:
        pass
    in_flight, elapsed, metrics = await common.wait_idle(call)
    check("cancel: run stopped, nothing in flight", in_flight == 0 and elapsed < 10, (in_flight, elapsed))
    check("cancel: counted as cancelled", metrics.get("by_status", {}).get("cancelled", 0) > before, metrics)
    after = await call("execute_code", {"language": "javascript", "code": "console.log('after')"})
    check("cancel: next call works", (after.get("structuredContent") or {}).get("stdout") == "after\n", after)
    await asyncio.sleep(0.5)  # a late response for the cancelled id would arrive now; the session must survive it
    after = await call("execute_code", {"language": "javascript", "code": "console.log('still')"})
    check("cancel: session still healthy", (after.get("structuredContent") or {}).get("stdout") == "still\n", after)


async def snippets():
    # The README's mcp-sdk snippet, run as a script with this SDK version (the JSON config snippets are
    # exercised by the mcp-sdk-1 test).
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
