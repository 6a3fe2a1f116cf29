"""wasm-sandbox serve with the official MCP Python SDK 1.x (mcp==1.30.0) as the client, over stdio;
also runs the README's JSON config snippets (claude-desktop, cursor), the claude-code command line and the
mcp-sdk Python snippet. Run by scripts/client-tests.sh: python test.py BINARY
"""
import asyncio
import json
import os
import shlex
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
import common  # noqa: E402
from common import check  # noqa: E402

import mcp  # noqa: E402
from mcp import ClientSession, StdioServerParameters, types  # noqa: E402
from mcp.client.stdio import stdio_client  # noqa: E402
from mcp.shared.exceptions import McpError  # noqa: E402

CLIENT = "mcp-sdk-1"


async def main():
    await common.mcp_sdk_checks(CLIENT, mcp, McpError, cancellation)
    await snippets()


async def cancellation(session, call):
    # SDK 1.x does not send notifications/cancelled when a call is abandoned: give up on the call (wait_for
    # cancels it) and send the notification for its request id, the session's counter before the call.
    sent = {}

    def start(arguments):
        sent["request_id"] = session._request_id
        return session.call_tool("execute_code", arguments)

    async def notify():
        await session.send_notification(types.ClientNotification(types.CancelledNotification(
            params=types.CancelledNotificationParams(requestId=sent["request_id"], reason="test gave up"))))

    await common.cancel_checks(call, start, notify)


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
    await common.run_snippet_script("mcp-sdk")


if __name__ == "__main__":
    asyncio.run(main())
    sys.exit(common.finish(CLIENT))
