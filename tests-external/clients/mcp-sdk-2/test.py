"""wasm-sandbox serve with the official MCP Python SDK 2.x (mcp==2.3.0) as the client, over stdio;
also runs the README's mcp-sdk Python snippet. Run by scripts/client-tests.sh: python test.py BINARY
"""
import asyncio
import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
import common  # noqa: E402
from common import check  # noqa: E402

from mcp import ClientSession, StdioServerParameters  # noqa: E402
from mcp.client.stdio import stdio_client  # noqa: E402
from mcp.shared.exceptions import MCPError  # noqa: E402

CLIENT = "mcp-sdk-2"


async def main():
    params = StdioServerParameters(command=common.binary(), args=common.SERVE_ARGS)
    async with stdio_client(params) as (read_stream, write_stream):
        async with ClientSession(read_stream, write_stream) as session:
            info = await session.initialize()
            check("initialize", info.server_info.name == "wasm-sandbox", info)
            call, read, list_tools = common.adapters(session.call_tool, session.read_resource, session.list_tools,
                                                     MCPError)
            await common.standard_checks(CLIENT, call, read, list_tools)
            await common.progress_checks(lambda name, arguments, on_progress: session.call_tool(
                name, arguments, progress_callback=on_progress))
            # SDK 2.x sends notifications/cancelled by itself when the caller abandons a request (cancelled task).
            await common.cancel_checks(call, lambda arguments: session.call_tool("execute_code", arguments))
    # The README's mcp-sdk snippet, run as a script with this SDK version (the JSON config snippets are
    # exercised by the mcp-sdk-1 test).
    await common.run_snippet_script("mcp-sdk")


if __name__ == "__main__":
    asyncio.run(main())
    sys.exit(common.finish(CLIENT))
