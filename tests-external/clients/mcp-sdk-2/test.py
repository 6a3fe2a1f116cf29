"""wasm-sandbox serve with the official MCP Python SDK 2.x (mcp==2.3.0) as the client, over stdio;
also runs the README's mcp-sdk Python snippet. Run by scripts/client-tests.sh: python test.py BINARY
"""
import asyncio
import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
import common  # noqa: E402

import mcp  # noqa: E402
from mcp.shared.exceptions import MCPError  # noqa: E402

CLIENT = "mcp-sdk-2"


async def main():
    # SDK 2.x sends notifications/cancelled by itself when the caller abandons a request (cancelled task).
    await common.mcp_sdk_checks(CLIENT, mcp, MCPError)
    # The README's mcp-sdk snippet, run as a script with this SDK version (the JSON config snippets are
    # exercised by the mcp-sdk-1 test).
    await common.run_snippet_script("mcp-sdk")


if __name__ == "__main__":
    asyncio.run(main())
    sys.exit(common.finish(CLIENT))
