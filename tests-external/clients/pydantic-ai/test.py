"""pydantic-ai (pydantic-ai-slim[mcp]) as the MCP client of `wasm-sandbox serve` over stdio, with no LLM:
an Agent whose model is a FunctionModel that plays a script of tool calls and records what it is sent.

Run by scripts/client-tests.sh in its own venv: python test.py BINARY
"""
import asyncio
import os
import re
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
from common import (LANGUAGE_RUNS, MATPLOTLIB_AGG_CODE, PNG_MAGIC, SERVE_ARGS, TOOL_NAMES,  # noqa: E402
                    agent_cancel_checks, binary, check, exec_snippet, finish, status_of, stdout_in)

from fastmcp.client.transports import StdioTransport  # noqa: E402
from pydantic_ai import Agent  # noqa: E402
from pydantic_ai.mcp import MCPToolset  # noqa: E402
from pydantic_ai.messages import (BinaryContent, ModelRequest, ModelResponse, RetryPromptPart,  # noqa: E402
                                  TextPart, ToolCallPart, ToolReturnPart, UserPromptPart)
from pydantic_ai.models.function import AgentInfo, FunctionModel  # noqa: E402

class Script:
    """A FunctionModel that calls `tool` with `args` once, then answers 'done'; it keeps what it was sent."""

    def __init__(self, args, tool="execute_code"):
        self.args, self.tool = args, tool
        self.requests = []  # the messages of each model request
        self.tool_names = None

    def __call__(self, messages, info: AgentInfo):
        self.requests.append(list(messages))
        self.tool_names = [tool.name for tool in info.function_tools]
        if len(self.requests) == 1:
            return ModelResponse(parts=[ToolCallPart(self.tool, self.args, tool_call_id="call-1")])
        return ModelResponse(parts=[TextPart("done")])

    def seen_parts(self):
        """Parts of the requests after the tool call: what the model was shown about the tool's result."""
        return [part for messages in self.requests[1:2] for message in messages[-1:]
                if isinstance(message, ModelRequest) for part in message.parts]

    def tool_return(self):
        """The tool's result as an ordinary (successful) tool return."""
        return next((part for part in self.seen_parts()
                     if isinstance(part, ToolReturnPart) and part.outcome == "success"), None)

    def retry_prompt(self):
        """The tool's error as the model sees it: a return with outcome 'retried'/'failed' (a RetryPromptPart
        in older versions)."""
        return next((part for part in self.seen_parts() if isinstance(part, RetryPromptPart) or
                     (isinstance(part, ToolReturnPart) and part.outcome != "success")), None)


def flatten(value):
    """Every leaf of a tool return's content: strings, dicts, BinaryContent."""
    if isinstance(value, (list, tuple)):
        return [leaf for item in value for leaf in flatten(item)]
    return [value]


def as_text(content):
    """The text form of what the model sees: the structured result (dict) or the text items."""
    return "\n".join(str(leaf) for leaf in flatten(content) if not isinstance(leaf, BinaryContent))


def stdout_of(content):
    """stdout of an execute_code result as the model sees it (structured dict or text)."""
    for leaf in flatten(content):
        if isinstance(leaf, dict) and "stdout" in leaf:
            return leaf["stdout"]
    return stdout_in(as_text(content))


def status_in(content):
    for leaf in flatten(content):
        if isinstance(leaf, dict) and "status" in leaf:
            return leaf["status"]
        if isinstance(leaf, str) and status_of(leaf):
            return status_of(leaf)
    return None


async def run_script(agent, args, tool="execute_code"):
    script = Script(args, tool)
    error = None
    try:
        result = await agent.run("go", model=FunctionModel(script))
        output = result.output
    except Exception as exc:  # the agent run aborted
        output, error = None, exc
    return script, output, error


async def metrics(server):
    return await server.direct_call_tool("sandbox_metrics", {})


async def exercise_snippet():
    """The README snippet: exec it, drive its agent through one tool call."""
    server, agent = exec_snippet("pydantic-ai", server=MCPToolset, agent=Agent) or (None, None)
    if not isinstance(agent, Agent):
        return
    async with agent:
        script, output, error = await run_script(agent, {"language": "python", "code": "print(6*7)"})
        ret = script.tool_return()
        check("snippet: agent runs execute_code", error is None and ret is not None and
              stdout_of(ret.content) == "42\n", (error, script.requests))


async def main():
    await exercise_snippet()

    server = MCPToolset(StdioTransport(command=binary(), args=SERVE_ARGS), max_retries=1)
    agent = Agent(toolsets=[server], retries=1)
    async with agent:
        info = server.server_info
        check("initialize", info is not None and info.name == "wasm-sandbox", info)
        listed = [tool.name for tool in await server.list_tools()]
        check("tools/list", listed == TOOL_NAMES, listed)

        script, output, error = await run_script(agent, {"language": "javascript", "code": "console.log(6*7)"})
        check("tools built for the model", script.tool_names is not None and
              sorted(script.tool_names) == sorted(TOOL_NAMES), (script.tool_names, error))

        for language, code, expected in LANGUAGE_RUNS:
            script, output, error = await run_script(agent, {"language": language, "code": code})
            ret = script.tool_return()
            check(f"{language} runs", error is None and output == "done" and ret is not None and
                  status_in(ret.content) == "ok" and stdout_of(ret.content) == expected,
                  (error, script.seen_parts()))

        # A program that fails is a normal result: the model gets a tool return, not a retry prompt.
        script, output, error = await run_script(agent, {"language": "python", "code": "raise ValueError('boom')"})
        ret = script.tool_return()
        check("failing program is a normal tool result", error is None and output == "done" and ret is not None and
              script.retry_prompt() is None and status_in(ret.content) == "exited" and
              "ValueError: boom" in as_text(ret.content), (error, script.seen_parts()))

        # Invalid arguments: a tool error whose text the model sees (pydantic-ai: a retry prompt).
        script, output, error = await run_script(agent, {"language": "cobol", "code": "x"})
        retry = script.retry_prompt()
        seen = str(retry.content) if retry else ""
        check("invalid argument reaches the model", error is None and output == "done" and retry is not None and
              "unknown language 'cobol'" in seen, (error, script.seen_parts()))
        check("invalid argument is a tool result, not a JSON-RPC error", "Invalid params" not in seen and
              "-32602" not in seen, seen)

        # An image: a matplotlib figure comes back as image content the model is shown.
        script, output, error = await run_script(agent, {"language": "python", "code": MATPLOTLIB_AGG_CODE})
        images = [leaf for part in script.seen_parts() if isinstance(part, (ToolReturnPart, UserPromptPart))
                  for leaf in flatten(part.content)
                  if isinstance(leaf, BinaryContent) and leaf.media_type == "image/png"]
        check("image result", error is None and len(images) >= 1 and images[0].data.startswith(PNG_MAGIC),
              (error, script.seen_parts()))

        # A file the run wrote: a resource_link (shown to the model as its uri), read back with resources/read.
        payload = bytes(range(256))
        script, output, error = await run_script(agent, {"language": "python", "code": (
            "open('/workspace/data.bin', 'wb').write(bytes(range(256)))\n"
            "open('/workspace/note.txt', 'w').write('hello from the sandbox\\n')")})
        ret = script.tool_return()
        uris = re.findall(r"[a-z][a-z0-9+.-]*://[^\s'\",)\]]+", as_text(ret.content) if ret else "")
        bin_uri = next((uri for uri in uris if uri.endswith("data.bin")), None)
        txt_uri = next((uri for uri in uris if uri.endswith("note.txt")), None)
        check("resource links for written files", error is None and bin_uri and txt_uri, (error, uris, ret))
        if bin_uri and txt_uri:
            try:
                data = await server.read_resource(bin_uri)
                data = data[0] if isinstance(data, list) and len(data) == 1 else data
                check("resources/read: binary file", isinstance(data, BinaryContent) and data.data == payload, data)
                text = await server.read_resource(txt_uri)
                text = text[0] if isinstance(text, list) and len(text) == 1 else text
                check("resources/read: text file", text == "hello from the sandbox\n", text)
            except Exception as exc:
                check("resources/read", False, exc)

        # Cancellation: cancelling the agent run (its asyncio task) cancels the MCP request; the SDK
        # sends notifications/cancelled. The run must stop well before its own 10 s timeout.
        await agent_cancel_checks(lambda: metrics(server), lambda arguments: run_script(agent, arguments),
                                  "agent run")
        script, output, error = await run_script(agent, {"language": "javascript", "code": "console.log('ok')"})
        ret = script.tool_return()
        check("cancel: next call works", error is None and ret is not None and stdout_of(ret.content) == "ok\n",
              (error, script.seen_parts()))

    return finish("pydantic-ai")


if __name__ == "__main__":
    sys.exit(asyncio.run(main()))
