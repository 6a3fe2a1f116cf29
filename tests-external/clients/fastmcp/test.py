"""wasm-sandbox serve with FastMCP's Client (fastmcp==4.2.3) over a stdio transport; also runs the README's
fastmcp snippet. Run by scripts/client-tests.sh: python test.py BINARY
"""
import asyncio
import os
import subprocess
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
import common  # noqa: E402
from common import check  # noqa: E402

from fastmcp import Client  # noqa: E402
from fastmcp.client.transports import StdioTransport  # noqa: E402
from fastmcp.exceptions import ToolError  # noqa: E402
from mcp.shared.exceptions import MCPError  # noqa: E402

CLIENT = "fastmcp"


def adapters(client):
    async def call(name, arguments):
        try:
            return common.wire(await client.call_tool_mcp(name, arguments))
        except MCPError as error:
            return {"jsonrpc_error": str(error)}

    async def read(uri):
        return [common.wire(item) for item in await client.read_resource(uri)]

    async def list_tools():
        return [common.wire(tool) for tool in await client.list_tools()]

    return call, read, list_tools


async def main():
    client = Client(StdioTransport(command=common.binary(), args=common.SERVE_ARGS))
    async with client:
        check("initialize", client.initialize_result.server_info.name == "wasm-sandbox", client.initialize_result)
        call, read, list_tools = adapters(client)
        await common.standard_checks(CLIENT, call, read, list_tools)
        await high_level(client)
        await progress(client)
        await cancellation(client, call)
    await snippet()


async def high_level(client):
    """FastMCP's own call_tool: parses structuredContent, raises ToolError only for isError."""
    try:
        result = await client.call_tool("execute_code", {"language": "python", "code": "print(6*7)"})
        check("call_tool: ok run", not result.is_error and (result.structured_content or {}).get("stdout") == "42\n",
              result)
    except Exception as error:  # noqa: BLE001 - a client that chokes on the result is a failure
        check("call_tool: ok run", False, repr(error))
    try:
        result = await client.call_tool("execute_code", {"language": "python", "code": "raise ValueError('boom')"})
        check("call_tool: failing program does not raise",
              not result.is_error and "ValueError: boom" in (getattr(result.content[0], "text", "") if result.content else ""),
              result)
    except Exception as error:  # noqa: BLE001
        check("call_tool: failing program does not raise", False, repr(error))
    try:
        result = await client.call_tool("execute_code", {"language": "cobol", "code": "x"})
        check("call_tool: invalid argument raises ToolError", False, result)
    except ToolError as error:
        check("call_tool: invalid argument raises ToolError", "unknown language 'cobol'" in str(error), repr(error))
    except Exception as error:  # noqa: BLE001
        check("call_tool: invalid argument raises ToolError", False, repr(error))
    try:
        result = await client.call_tool("execute_code", {"language": "python", "code": common.MATPLOTLIB_CODE})
        mime_types = [getattr(item, "mime_type", None) for item in result.content]
        check("call_tool: image content", "image/png" in mime_types, result.content)
    except Exception as error:  # noqa: BLE001
        check("call_tool: image content", False, repr(error))


async def progress(client):
    updates = []

    async def on_progress(value, total, message):
        updates.append(value)

    result = await client.call_tool_mcp(
        "execute_code", {"language": "python", "code": "import time\nt = time.time()\nwhile time.time() - t < 2.5: pass"},
        progress_handler=on_progress)
    check("progress notifications while running", not result.is_error and len(updates) >= 1, (updates, result))


async def cancellation(client, call):
    # Cancelling the task awaiting call_tool: the client sends notifications/cancelled (through mcp 2.x).
    before = ((await call("sandbox_metrics", {})).get("structuredContent") or {}).get("by_status", {}).get("cancelled", 0)
    task = asyncio.ensure_future(client.call_tool(
        "execute_code", {"language": "python", "code": common.ENDLESS_PYTHON, "timeout_ms": 10000}))
    await asyncio.sleep(1.0)
    task.cancel()
    try:
        await task
        check("cancel: the endless run did not return", False, task.result())
    except asyncio.CancelledError:
        pass
    except Exception as error:  # noqa: BLE001
        check("cancel: cancelling the call", False, repr(error))
    in_flight, elapsed, metrics = await common.wait_idle(call)
    check("cancel: run stopped, nothing in flight", in_flight == 0 and elapsed < 10, (in_flight, elapsed))
    check("cancel: counted as cancelled", metrics.get("by_status", {}).get("cancelled", 0) > before, metrics)
    after = await call("execute_code", {"language": "javascript", "code": "console.log('after')"})
    check("cancel: next call works", (after.get("structuredContent") or {}).get("stdout") == "after\n", after)
    await asyncio.sleep(0.5)
    after = await call("execute_code", {"language": "javascript", "code": "console.log('still')"})
    check("cancel: client still healthy", (after.get("structuredContent") or {}).get("stdout") == "still\n", after)


async def snippet():
    try:
        run = await asyncio.to_thread(subprocess.run, [sys.executable, "-c", common.snippet("fastmcp")],
                                      capture_output=True, text=True, timeout=120)
        check("snippet fastmcp runs", run.returncode == 0 and "42" in run.stdout,
              (run.returncode, run.stdout, run.stderr[-2000:]))
    except Exception as error:  # noqa: BLE001
        check("snippet fastmcp runs", False, repr(error))


if __name__ == "__main__":
    asyncio.run(main())
    sys.exit(common.finish(CLIENT))
