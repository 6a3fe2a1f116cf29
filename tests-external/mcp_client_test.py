"""End-to-end test of `wasm-sandbox serve` with the official MCP Python SDK as the client,
over stdio and over Streamable HTTP.

Run by scripts/test.sh after `swift build`: python3 tests-external/mcp_client_test.py BINARY
"""
import asyncio
import os
import re
import subprocess
import sys

from mcp import ClientSession, StdioServerParameters, types
from mcp.client.stdio import stdio_client
from mcp.client.streamable_http import streamablehttp_client
from mcp.shared.exceptions import McpError

# The checks and the summary are the client tests' (stdlib only, so this environment runs them).
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "clients"))
from common import check, finish  # noqa: E402

BINARY = sys.argv[1] if len(sys.argv) > 1 else ".build/debug/wasm-sandbox"


SERVE_ARGS = ["serve", "--max-timeout-ms", "10000"]


async def main():
    params = StdioServerParameters(command=BINARY, args=SERVE_ARGS + ["--log-level", "error"])
    async with stdio_client(params) as (read, write):
        async with ClientSession(read, write) as session:
            await exercise(session, "stdio")

    server = subprocess.Popen([BINARY] + SERVE_ARGS + ["--http", "127.0.0.1:0", "--log-level", "notice"],
                              stderr=subprocess.PIPE, text=True)
    try:
        url = None
        for line in server.stderr:
            match = re.search(r"(http://127\.0\.0\.1:\d+/mcp)", line)
            if match:
                url = match.group(1)
                break
        check("http server started", url is not None)
        async with streamablehttp_client(url) as (read, write, _):
            async with ClientSession(read, write) as session:
                await exercise(session, "http")
                await disconnect_mid_run(url, session)
    finally:
        server.terminate()
        try:
            code = server.wait(timeout=10)
            check("http server stops on SIGTERM", code == 0, code)
        except subprocess.TimeoutExpired:
            server.kill()
            check("http server stops on SIGTERM", False, "still running after 10 s")

    return finish("mcp-python-client")


async def disconnect_mid_run(url, observer):
    """A raw HTTP client starts an endless run and hangs up; the server must stop the run."""
    import httpx

    headers = {"Accept": "application/json, text/event-stream", "Content-Type": "application/json",
               "MCP-Protocol-Version": "2025-06-18"}
    async with httpx.AsyncClient(timeout=10) as http:
        init = await http.post(url, headers=headers, json={
            "jsonrpc": "2.0", "id": 1, "method": "initialize",
            "params": {"protocolVersion": "2025-06-18", "capabilities": {},
                       "clientInfo": {"name": "hang-up", "version": "1"}}})
        headers["Mcp-Session-Id"] = init.headers["mcp-session-id"]
        await http.post(url, headers=headers, json={"jsonrpc": "2.0", "method": "notifications/initialized"})
        before = (await observer.call_tool("sandbox_metrics", {})).structuredContent["by_status"].get("cancelled", 0)
        call = {"jsonrpc": "2.0", "id": 2, "method": "tools/call", "params": {
            "name": "execute_code",
            "arguments": {"language": "javascript", "code": "for (;;) {}", "timeout_ms": 10000}}}
        async with http.stream("POST", url, headers=headers, json=call) as response:
            async for _ in response.aiter_bytes():
                break  # the stream's first event arrived: the call is under way; hang up
        started = asyncio.get_running_loop().time()
        while asyncio.get_running_loop().time() - started < 8:
            metrics = (await observer.call_tool("sandbox_metrics", {})).structuredContent
            if metrics["in_flight"] == 0 and metrics["by_status"].get("cancelled", 0) > before:
                break
            await asyncio.sleep(0.05)
        elapsed = asyncio.get_running_loop().time() - started
        check("http: run stopped when its client disconnected",
              metrics["in_flight"] == 0 and metrics["by_status"].get("cancelled", 0) > before and elapsed < 5,
              (metrics, elapsed))


async def exercise(session, transport):
    def check_on(name, condition, detail=""):
        check(f"{transport}: {name}", condition, detail)

    info = await session.initialize()
    check_on("initialize", info.serverInfo.name == "wasm-sandbox", info)

    tools = await session.list_tools()
    names = [tool.name for tool in tools.tools]
    check_on("list tools", names == ["execute_code", "sandbox_health", "sandbox_metrics", "list_sessions",
                                     "reset_session", "close_session"], names)

    # A session keeps state across calls; the final expression comes back as its value.
    started = await session.call_tool(
        "execute_code", {"language": "python", "session_id": "nb", "code": "import pandas as pd\ntotal = 20"})
    check_on("session starts", not started.isError, started)
    continued = await session.call_tool(
        "execute_code", {"language": "python", "session_id": "nb", "code": "total + pd.Series([1, 1]).sum()"})
    check_on("session keeps state", (continued.structuredContent or {}).get("value") == "np.int64(22)", continued)
    listed = await session.call_tool("list_sessions", {})
    check_on("sessions listed", [entry["session_id"] for entry in listed.structuredContent["sessions"]] == ["nb"],
             listed)
    closed = await session.call_tool("close_session", {"session_id": "nb"})
    check_on("session closed", not closed.isError, closed)

    for language, code, expected in [
        ("javascript", "console.log([1, 2].map(x => x * 21))", "[ 21, 42 ]\n"),
        ("python", "import sys; print(sys.version_info[:2])", "(3, 15)\n"),
        ("wat", '(module (memory (export "memory") 1) (func (export "_start")))', ""),
    ]:
        result = await session.call_tool("execute_code", {"language": language, "code": code})
        structured = result.structuredContent or {}
        check_on(f"{language} runs", not result.isError and structured.get("stdout") == expected, result)

    failing = await session.call_tool("execute_code", {"language": "python", "code": "1/0"})
    # The tool did its job: a failing program is a normal result whose text starts with its status.
    check_on("failing run is a normal result",
             not failing.isError and failing.content[0].text.startswith("status: exited with exit code 1")
             and "ZeroDivisionError" in failing.content[0].text, failing)

    slow = await session.call_tool(
        "execute_code", {"language": "javascript", "code": "for (;;) {}", "timeout_ms": 300})
    check_on("timeout", not slow.isError and (slow.structuredContent or {}).get("status") == "timed_out"
             and slow.content[0].text.startswith("status: timed_out"), slow)

    # Argument errors are results with isError (SEP-1303), which the model reads, not JSON-RPC errors.
    try:
        bad = await session.call_tool("execute_code", {"language": "cobol", "code": "x"})
        check_on("unknown language", bad.isError and "unknown language" in bad.content[0].text, bad)
    except McpError as error:
        check_on("unknown language is a result, not a protocol error", False, error)

    # Numbers no integer holds once trapped the server in Int(Double), over stdio and HTTP alike.
    for arguments, message in [
        ({"timeout_ms": 1e300}, "'timeout_ms' must be an integer from 1 to 86400000, got 1e+300"),
        ({"memory_mb": 1.5}, "'memory_mb' must be an integer from 1 to 4096, got 1.5"),
        ({"fuel": 1e19}, "'fuel' must be an integer from 1 to 9007199254740992, got 1e+19"),
        ({"args": 5}, "'args' must be an array of strings"),
    ]:
        try:
            bad = await session.call_tool("execute_code", {"language": "javascript", "code": "1", **arguments})
            check_on(f"bad {arguments}", bad.isError and message in bad.content[0].text, bad)
        except McpError as error:
            check_on(f"bad {arguments} is a result, not a protocol error", False, error)

    # A cancelled call: the client gives up after 300 ms and sends notifications/cancelled.
    # This SDK version does not send it by itself when a call is abandoned; the id of the
    # next request is its session counter (pinned version, see .ci/run).
    request_id = session._request_id
    started = asyncio.get_running_loop().time()
    try:
        await asyncio.wait_for(
            session.call_tool("execute_code",
                              {"language": "javascript", "code": "for (;;) {}", "timeout_ms": 10000}),
            timeout=0.3)
        check_on("cancel", False, "the endless run returned")
    except (asyncio.TimeoutError, TimeoutError):
        await session.send_notification(types.ClientNotification(types.CancelledNotification(
            params=types.CancelledNotificationParams(requestId=request_id, reason="client gave up"))))
    # The server stops the cancelled run: nothing is left in flight well before 10 s.
    in_flight = None
    for _ in range(60):
        metrics = await session.call_tool("sandbox_metrics", {})
        in_flight = (metrics.structuredContent or {}).get("in_flight")
        if in_flight == 0:
            break
        await asyncio.sleep(0.05)
    elapsed = asyncio.get_running_loop().time() - started
    check_on("cancelled run stopped", in_flight == 0 and elapsed < 5, (in_flight, elapsed))

    after = await session.call_tool("execute_code", {"language": "javascript", "code": "console.log('ok')"})
    check_on("still serving", (after.structuredContent or {}).get("stdout") == "ok\n", after)


if __name__ == "__main__":
    sys.exit(asyncio.run(main()))
