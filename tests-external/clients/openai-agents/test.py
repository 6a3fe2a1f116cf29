"""openai-agents as the MCP client of `wasm-sandbox serve` over stdio, with no OpenAI key and no LLM:
MCPServerStdio + MCPUtil (tools converted to OpenAI strict schemas, called through FunctionTool.on_invoke_tool)
and a scripted fake Model driving Runner.

Run by scripts/client-tests.sh in its own venv: python test.py BINARY
"""
import asyncio
import base64
import copy
import json
import logging
import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
from common import (LANGUAGE_RUNS, MATPLOTLIB_AGG_CODE, PNG_MAGIC, SERVE_ARGS, TOOL_NAMES,  # noqa: E402
                    agent_cancel_checks, binary, check, exec_snippet, finish, status_of, stdout_in)

from agents import Agent, Runner, set_tracing_disabled  # noqa: E402
from agents.items import ModelResponse  # noqa: E402
from agents.mcp import MCPServerStdio, MCPUtil  # noqa: E402
from agents.models.interface import Model  # noqa: E402
from agents.strict_schema import ensure_strict_json_schema  # noqa: E402
from agents.tool_context import ToolContext  # noqa: E402
from agents.usage import Usage  # noqa: E402
from openai.types.responses import (ResponseFunctionToolCall, ResponseOutputMessage,  # noqa: E402
                                    ResponseOutputText)

set_tracing_disabled(True)


class StrictFallbackLog(logging.Handler):
    """Catches the SDK's 'Error converting MCP schema to strict mode' (its silent non-strict fallback)."""

    def __init__(self):
        super().__init__()
        self.messages = []

    def emit(self, record):
        message = record.getMessage()
        if "strict" in message:
            self.messages.append(message)


fallbacks = StrictFallbackLog()
logging.getLogger("openai.agents").addHandler(fallbacks)
logging.getLogger("openai.agents").setLevel(logging.INFO)


def input_schema(tool):
    return getattr(tool, "input_schema", None) or getattr(tool, "inputSchema")


def structured(result):
    value = getattr(result, "structured_content", None)
    return value if value is not None else getattr(result, "structuredContent", None)


def strict_args(function_tool, **given):
    """Arguments as an OpenAI strict-mode model sends them: every property present, null when not used."""
    arguments = {name: None for name in function_tool.params_json_schema.get("properties", {})}
    arguments.update(given)
    return arguments


def output_text(output):
    """The text parts of a tool output (str, a text dict, or a list of them)."""
    items = output if isinstance(output, list) else [output]
    texts = []
    for item in items:
        if isinstance(item, str):
            texts.append(item)
        elif isinstance(item, dict) and item.get("type") in ("text", "input_text"):
            texts.append(item.get("text", ""))
        else:
            text = getattr(item, "text", None)
            if text is not None:
                texts.append(text)
    return "\n".join(texts)


def output_images(output):
    items = output if isinstance(output, list) else [output]
    urls = []
    for item in items:
        url = item.get("image_url") if isinstance(item, dict) else getattr(item, "image_url", None)
        if (item.get("type") if isinstance(item, dict) else getattr(item, "type", None)) == "image" and url:
            urls.append(url)
    return urls


class ScriptModel(Model):
    """A fake Model: first turn calls `tool` with `arguments`, second turn answers 'done'. Keeps its inputs."""

    def __init__(self, tool, arguments):
        self.tool, self.arguments = tool, arguments
        self.inputs = []
        self.tools = None

    async def get_response(self, system_instructions, input, model_settings, tools, output_schema, handoffs,
                           tracing, **kwargs):
        self.inputs.append(copy.deepcopy(input))
        self.tools = tools
        if len(self.inputs) == 1:
            call = ResponseFunctionToolCall(type="function_call", id="fc-1", call_id="call-1", name=self.tool,
                                            arguments=json.dumps(self.arguments), status="completed")
            return ModelResponse(output=[call], usage=Usage(), response_id=None)
        message = ResponseOutputMessage(id="msg-1", type="message", role="assistant", status="completed",
                                        content=[ResponseOutputText(type="output_text", text="done",
                                                                    annotations=[])])
        return ModelResponse(output=[message], usage=Usage(), response_id=None)

    def stream_response(self, *args, **kwargs):
        raise NotImplementedError

    def tool_output(self):
        """The function_call_output the model got back for its call, or None."""
        if len(self.inputs) < 2 or not isinstance(self.inputs[1], list):
            return None
        for item in self.inputs[1]:
            kind = item.get("type") if isinstance(item, dict) else getattr(item, "type", None)
            if kind == "function_call_output":
                return item.get("output") if isinstance(item, dict) else getattr(item, "output", None)
        return None


async def run_agent(agent, tool, arguments):
    model = ScriptModel(tool, arguments)
    agent = agent.clone(model=model)
    try:
        result = await Runner.run(agent, "go")
        return model, result.final_output, None
    except Exception as exc:
        return model, None, exc


async def exercise_snippet():
    server, agent = exec_snippet("openai-agents", server=MCPServerStdio, agent=Agent) or (None, None)
    if not isinstance(agent, Agent):
        return
    async with server:
        arguments = {"language": "python", "code": "print(6*7)"}
        model, output, error = await run_agent(agent, "execute_code", arguments)
        sent = [getattr(tool, "name", None) for tool in model.tools or []]
        strict = [getattr(tool, "strict_json_schema", None) for tool in model.tools or []]
        check("snippet: agent's tools are strict", sorted(sent) == sorted(TOOL_NAMES) and all(strict), (sent, strict))
        text = output_text(model.tool_output())
        check("snippet: Runner calls execute_code", error is None and output == "done" and
              stdout_in(text) == "42\n", (error, model.inputs[1:]))


async def main():
    await exercise_snippet()

    server = MCPServerStdio(name="wasm-sandbox", params={"command": binary(), "args": SERVE_ARGS},
                            client_session_timeout_seconds=60)
    async with server:
        info = getattr(server, "server_initialize_result", None)
        server_info = getattr(info, "server_info", None) or getattr(info, "serverInfo", None)
        check("initialize", server_info is not None and server_info.name == "wasm-sandbox", info)
        tools = await server.list_tools()
        check("tools/list", [tool.name for tool in tools] == TOOL_NAMES, [tool.name for tool in tools])

        # Strict conversion must succeed as it is, with no fallback to a non-strict schema.
        function_tools = {}
        for tool in tools:
            try:
                ensure_strict_json_schema(copy.deepcopy(input_schema(tool)), _reject_open_objects=True)
                error = None
            except Exception as exc:
                error = exc
            check(f"strict schema: {tool.name}", error is None, f"{type(error).__name__}: {error}")
            function_tool = MCPUtil.to_function_tool(tool, server, convert_schemas_to_strict=True)
            check(f"strict function tool: {tool.name}", function_tool.strict_json_schema is True,
                  function_tool.params_json_schema)
            function_tools[tool.name] = function_tool
        check("no strict-mode fallback logged", fallbacks.messages == [], fallbacks.messages)

        execute = function_tools["execute_code"]
        calls = 0

        async def invoke(name, arguments):
            nonlocal calls
            calls += 1
            raw = json.dumps(arguments)
            context = ToolContext(context=None, tool_name=name, tool_call_id=f"call-{calls}", tool_arguments=raw)
            return await function_tools[name].on_invoke_tool(context, raw)

        for language, code, expected in LANGUAGE_RUNS:
            # As a strict-mode model sends it: every optional argument null.
            output = await invoke("execute_code", strict_args(execute, language=language, code=code))
            text = output_text(output)
            check(f"{language} runs (strict arguments, nulls)", status_of(text) == "ok" and
                  (not expected or stdout_in(text) == expected), output)

        # Nested strict objects: env as a list of {name, value}, files with a null base64.
        output = await invoke("execute_code", strict_args(
            execute, language="python", env=[{"name": "GREETING", "value": "hi"}],
            files=[{"name": "in.txt", "text": "abc", "base64": None}],
            code="import os; print(os.environ['GREETING'], open('/workspace/in.txt').read())"))
        check("env list and files with nulls", stdout_in(output_text(output)) == "hi abc\n", output)

        output = await invoke("execute_code", strict_args(execute, language="python",
                                                          code="raise ValueError('boom')"))
        text = output_text(output)
        check("failing program is a normal result", status_of(text) == "exited" and "ValueError: boom" in text,
              output)

        output = await invoke("execute_code", strict_args(execute, language="cobol", code="x"))
        check("invalid argument text reaches the model", "unknown language 'cobol'" in output_text(output), output)

        output = await invoke("execute_code", strict_args(execute, language="python", code=MATPLOTLIB_AGG_CODE))
        images = output_images(output)
        png = base64.b64decode(images[0].split(",", 1)[1]) if images and "," in images[0] else b""
        check("image result", images and images[0].startswith("data:image/png;base64,") and
              png.startswith(PNG_MAGIC), str(output)[:500])

        # A written file comes back as a resource_link (serialized as JSON text for the model).
        output = await invoke("execute_code", strict_args(execute, language="python", code=(
            "open('/workspace/data.bin', 'wb').write(bytes(range(256)))")))
        links = []
        for item in (output if isinstance(output, list) else [output]):
            try:
                block = json.loads(output_text(item))
            except (ValueError, TypeError):
                continue
            if isinstance(block, dict) and block.get("type") == "resource_link":
                links.append(block)
        uri = next((link["uri"] for link in links if str(link.get("uri", "")).endswith("data.bin")), None)
        check("resource_link for a written file", uri is not None and "://" in str(uri), output)
        if uri:
            try:
                read = await server.read_resource(uri)
                contents = read.contents[0]
                blob = getattr(contents, "blob", None)
                data = base64.b64decode(blob) if blob is not None else getattr(contents, "text", "").encode()
                check("resources/read: bytes equal", data == bytes(range(256)), read)
            except Exception as exc:
                check("resources/read", False, exc)

        # Runner with a fake model: a failing program and an invalid call do not abort the run.
        agent = Agent(name="coder", mcp_servers=[server], mcp_config={"convert_schemas_to_strict": True})
        model, final, error = await run_agent(agent, "execute_code", strict_args(
            execute, language="python", code="raise ValueError('boom')"))
        text = output_text(model.tool_output())
        check("Runner: failing program reaches the model", error is None and final == "done" and
              "ValueError: boom" in text, (error, model.inputs[1:]))
        model, final, error = await run_agent(agent, "execute_code", strict_args(
            execute, language="cobol", code="x"))
        text = output_text(model.tool_output())
        check("Runner: invalid argument reaches the model", error is None and final == "done" and
              "unknown language 'cobol'" in text, (error, model.inputs[1:]))

        # Cancellation: cancelling the tool-call task; the MCP SDK sends notifications/cancelled.
        async def metrics():
            return structured(await server.call_tool("sandbox_metrics", {})) or {}

        await agent_cancel_checks(metrics, lambda arguments: invoke("execute_code", strict_args(execute, **arguments)),
                                  "call")
        output = await invoke("execute_code", strict_args(execute, language="javascript", code="console.log('ok')"))
        check("cancel: next call works", stdout_in(output_text(output)) == "ok\n", output)

    return finish("openai-agents")


if __name__ == "__main__":
    sys.exit(asyncio.run(main()))
