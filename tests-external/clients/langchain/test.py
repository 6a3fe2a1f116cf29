"""LangChain / LangGraph as the MCP client of `wasm-sandbox serve` over stdio, with no LLM:
langchain-mcp-adapters turns the tools into LangChain tools, a LangGraph graph runs them with the prebuilt
ToolNode, and a scripted agent node plays the model (one tool call, then a final answer).

Run by scripts/client-tests.sh in its own venv: python test.py BINARY
"""
import asyncio
import base64
import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
from common import (LANGUAGE_RUNS, MATPLOTLIB_AGG_CODE, PNG_MAGIC, SERVE_ARGS, TOOL_NAMES,  # noqa: E402
                    agent_cancel_checks, binary, check, exec_snippet, finish, status_of, stdout_in)

from langchain_core.messages import AIMessage, ToolMessage  # noqa: E402
from langchain_mcp_adapters.client import MultiServerMCPClient  # noqa: E402
from langchain_mcp_adapters.resources import load_mcp_resources  # noqa: E402
from langchain_mcp_adapters.tools import load_mcp_tools  # noqa: E402
from langgraph.graph import START, MessagesState, StateGraph  # noqa: E402
from langgraph.prebuilt import ToolNode, tools_condition  # noqa: E402
from mcp import ClientSession, StdioServerParameters, types  # noqa: E402
from mcp.client.stdio import stdio_client  # noqa: E402



def build_graph(tools):
    """agent -> tools (ToolNode) -> agent -> end. The agent node makes the one call in state['call']."""

    class State(MessagesState):
        call: dict

    def agent(state):
        if not any(isinstance(message, AIMessage) for message in state["messages"]):
            return {"messages": [AIMessage(content="", tool_calls=[dict(state["call"], id="call-1",
                                                                        type="tool_call")])]}
        return {"messages": [AIMessage(content="done")]}

    graph = StateGraph(State)
    graph.add_node("agent", agent)
    graph.add_node("tools", ToolNode(tools))
    graph.add_edge(START, "agent")
    graph.add_conditional_edges("agent", tools_condition)
    graph.add_edge("tools", "agent")
    return graph.compile()


async def run_graph(app, arguments, tool="execute_code"):
    """Returns (ToolMessage or None, final answer or None, exception or None)."""
    try:
        state = await app.ainvoke({"messages": [("user", "go")], "call": {"name": tool, "args": arguments}})
    except Exception as exc:
        return None, None, exc
    tool_message = next((m for m in state["messages"] if isinstance(m, ToolMessage)), None)
    return tool_message, state["messages"][-1].content, None


def blocks(message):
    content = message.content if message is not None else []
    return [{"type": "text", "text": content}] if isinstance(content, str) else list(content)


def text_of(message):
    return "\n".join(block.get("text", "") if isinstance(block, dict) else str(block) for block in blocks(message)
                     if not isinstance(block, dict) or block.get("type") == "text")


async def exercise_snippet():
    client, = exec_snippet("langchain", client=MultiServerMCPClient) or (None,)
    if not isinstance(client, MultiServerMCPClient):
        return
    try:
        tools = await client.get_tools()
    except Exception as exc:
        check("snippet: tools load", False, exc)
        return
    check("snippet: tools load", sorted(tool.name for tool in tools) == sorted(TOOL_NAMES), [t.name for t in tools])
    message, final, error = await run_graph(build_graph(tools), {"language": "python", "code": "print(6*7)"})
    check("snippet: ToolNode runs execute_code", error is None and final == "done" and
          stdout_in(text_of(message)) == "42\n", (error, message))


async def main():
    await exercise_snippet()

    params = StdioServerParameters(command=binary(), args=SERVE_ARGS)
    async with stdio_client(params) as (read, write):
        async with ClientSession(read, write) as session:
            info = await session.initialize()
            check("initialize", info.serverInfo.name == "wasm-sandbox", info)
            try:
                tools = await load_mcp_tools(session)
            except Exception as exc:
                check("tools built", False, exc)
                return finish("langchain")
            check("tools built", [tool.name for tool in tools] == TOOL_NAMES, [tool.name for tool in tools])
            app = build_graph(tools)

            for language, code, expected in LANGUAGE_RUNS:
                message, final, error = await run_graph(app, {"language": language, "code": code})
                text = text_of(message)
                check(f"{language} runs", error is None and final == "done" and message.status == "success" and
                      status_of(text) == "ok" and (not expected or stdout_in(text) == expected),
                      (error, message))

            # Optional arguments given as null (what strict-mode models send) are accepted.
            message, final, error = await run_graph(app, {
                "language": "python", "code": "print('nulls ok')", "stdin": None, "args": None, "env": None,
                "files": None, "timeout_ms": None, "memory_mb": None, "fuel": None, "session_id": None})
            check("null optional arguments", error is None and stdout_in(text_of(message)) == "nulls ok\n",
                  (error, message))

            # A failing program is a normal ToolMessage (status success), the graph goes on.
            message, final, error = await run_graph(app, {"language": "python", "code": "raise ValueError('boom')"})
            text = text_of(message)
            check("failing program is a normal result", error is None and final == "done" and
                  message.status == "success" and status_of(text) == "exited" and "ValueError: boom" in text,
                  (error, message))
            structured = getattr(message, "artifact", None) or {}
            structured = structured.get("structured_content", {}) if isinstance(structured, dict) else {}
            check("structured result in the artifact", structured.get("status") == "exited" and
                  structured.get("exit_code") == 1, message.artifact if message else None)

            # Invalid arguments: an error ToolMessage with the text; the graph is not aborted.
            message, final, error = await run_graph(app, {"language": "cobol", "code": "x"})
            check("invalid argument: error ToolMessage, graph goes on", error is None and final == "done" and
                  message is not None and message.status == "error" and
                  "unknown language 'cobol'" in text_of(message), (error, message))

            # An image: a matplotlib figure comes back as an image block.
            message, final, error = await run_graph(app, {"language": "python", "code": MATPLOTLIB_AGG_CODE})
            images = [block for block in blocks(message) if isinstance(block, dict) and block.get("type") == "image"
                      and block.get("base64")]
            png = base64.b64decode(images[0]["base64"]) if images else b""
            check("image result", error is None and images and images[0].get("mime_type") == "image/png" and
                  png.startswith(PNG_MAGIC), (error, str(message)[:800]))
            # The adapters turn a resource_link whose mimeType is image/* into an image block with a url: a
            # chat model provider is then handed the sandbox uri as an image url. Reported, not failed on.
            url_images = [block.get("url") for block in blocks(message)
                          if isinstance(block, dict) and block.get("type") == "image" and block.get("url")]
            if url_images:
                print(f"note: image resource_links become image blocks with non-http urls: {url_images}")

            # A written file: a resource_link (a file block with its uri), read back with resources/read.
            message, final, error = await run_graph(app, {"language": "python", "code": (
                "open('/workspace/data.bin', 'wb').write(bytes(range(256)))")})
            uri = next((block.get("url") for block in blocks(message) if isinstance(block, dict) and
                        block.get("type") == "file" and str(block.get("url", "")).endswith("data.bin")), None)
            check("resource link for a written file", error is None and uri is not None, (error, message))
            if uri:
                try:
                    loaded = await load_mcp_resources(session, uris=[uri])
                    check("resources/read: bytes equal", len(loaded) == 1 and
                          loaded[0].as_bytes() == bytes(range(256)), loaded)
                except Exception as exc:
                    check("resources/read", False, exc)

            # Cancellation. This MCP SDK (1.x) sends no notifications/cancelled when a call's task is
            # cancelled, so after cancelling the graph run the test sends it through the session.
            async def metrics():
                return (await session.call_tool("sandbox_metrics", {})).structuredContent or {}

            sent = {}

            def start(arguments):
                sent["request_id"] = session._request_id  # the next request is the tool call (pinned SDK version)
                return run_graph(app, arguments)

            async def notify():
                if (await metrics()).get("in_flight") != 0:
                    print("note: the SDK sent no notifications/cancelled; the test sends it")
                    await session.send_notification(types.ClientNotification(types.CancelledNotification(
                        params=types.CancelledNotificationParams(requestId=sent["request_id"],
                                                                 reason="graph cancelled"))))

            await agent_cancel_checks(metrics, start, "graph run", notify)
            message, final, error = await run_graph(app, {"language": "javascript", "code": "console.log('ok')"})
            check("cancel: next call works", error is None and stdout_in(text_of(message)) == "ok\n",
                  (error, message))

    return finish("langchain")


if __name__ == "__main__":
    sys.exit(asyncio.run(main()))
