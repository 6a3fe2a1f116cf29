"""wasm-sandbox serve with FastMCP's Client (fastmcp==4.2.3) over a stdio transport; also runs the README's
fastmcp snippet. Run by scripts/client-tests.sh: python test.py BINARY
"""
import asyncio
import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
import common  # noqa: E402
from common import check  # noqa: E402

from fastmcp import Client  # noqa: E402
from fastmcp.client.transports import StdioTransport  # noqa: E402
from fastmcp.exceptions import ToolError  # noqa: E402
from mcp.shared.exceptions import MCPError  # noqa: E402

CLIENT = "fastmcp"


async def main():
    client = Client(StdioTransport(command=common.binary(), args=common.SERVE_ARGS))
    async with client:
        check("initialize", client.initialize_result.server_info.name == "wasm-sandbox", client.initialize_result)
        call, read, list_tools = common.adapters(client.call_tool_mcp, client.read_resource, client.list_tools,
                                                 MCPError)
        await common.standard_checks(CLIENT, call, read, list_tools)
        await high_level(client)
        await common.progress_checks(lambda name, arguments, on_progress: client.call_tool_mcp(
            name, arguments, progress_handler=on_progress))
        # Cancelling the task awaiting call_tool: the client sends notifications/cancelled (through mcp 2.x).
        await common.cancel_checks(call, lambda arguments: client.call_tool("execute_code", arguments),
                                   holder="client")
    await common.run_snippet_script("fastmcp")


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


if __name__ == "__main__":
    asyncio.run(main())
    sys.exit(common.finish(CLIENT))
