"""Tool descriptions and function calls as text, in the formats LLaMA-Factory 0.9 writes for each template family."""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from datetime import datetime
from typing import Any

DEFAULT_PROMPT = (
    "You have access to the following tools:\n{tool_text}"
    "Use the following format if using a tool:\n"
    "```\n"
    "Action: tool name (one of [{tool_names}])\n"
    "Action Input: the input to the tool, in a JSON format representing the kwargs "
    """(e.g. ```{{"input": "hello world", "num_beams": 5}}```)\n"""
    "```\n"
)
LLAMA3_PROMPT = (
    "Cutting Knowledge Date: December 2023\nToday Date: {date}\n\n"
    "You have access to the following functions. To call a function, please respond with JSON for a function call. "
    """Respond in the format {{"name": function name, "parameters": dictionary of argument name and its value}}. """
    "Do not use variables.\n\n{tool_text}"
)
QWEN_PROMPT = (
    "\n\n# Tools\n\nYou may call one or more functions to assist with the user query.\n\n"
    "You are provided with function signatures within <tools></tools> XML tags:\n<tools>{tool_text}"
    "\n</tools>\n\nFor each function call, return a json object with function name and arguments within "
    """<tool_call></tool_call> XML tags:\n<tool_call>\n{{"name": <function-name>, """
    """"arguments": <args-json-object>}}\n</tool_call>"""
)

THOUGHT = re.compile(r"<think>(.*)</think>", re.DOTALL)
Call = tuple[str, str]  # (name, arguments as JSON text)


def _dumps(value: Any, indent: int | None = None) -> str:
    return json.dumps(value, ensure_ascii=False, indent=indent)


def _wrapped(tool: dict[str, Any]) -> dict[str, Any]:
    return tool if tool.get("type") == "function" else {"type": "function", "function": tool}


def _default_tools(tools: list[dict[str, Any]]) -> str:
    text, names = "", []
    for tool in tools:
        tool = tool.get("function", "") if tool.get("type") == "function" else tool
        params = ""
        for name, param in tool["parameters"]["properties"].items():
            required = ", required" if name in tool["parameters"].get("required", []) else ""
            enum = ", should be one of [{}]".format(", ".join(param["enum"])) if param.get("enum") else ""
            items = ", where each item should be {}".format(param["items"].get("type", "")) if param.get("items") else ""
            params += f"  - {name} ({param.get('type', '')}{required}): {param.get('description', '')}{enum}{items}\n"
        text += f"> Tool Name: {tool['name']}\nTool Description: {tool.get('description', '')}\nTool Args:\n{params}\n"
        names.append(tool["name"])
    return DEFAULT_PROMPT.format(tool_text=text, tool_names=", ".join(names))


def _llama3_tools(tools: list[dict[str, Any]]) -> str:
    text = "".join(_dumps(_wrapped(t), indent=4) + "\n\n" for t in tools)
    return LLAMA3_PROMPT.format(date=datetime.now().strftime("%d %b %Y"), tool_text=text)


def _mistral_tools(tools: list[dict[str, Any]]) -> str:
    return "[AVAILABLE_TOOLS] " + _dumps([_wrapped(t) for t in tools]) + "[/AVAILABLE_TOOLS]"


def _qwen_tools(tools: list[dict[str, Any]]) -> str:
    return QWEN_PROMPT.format(tool_text="".join("\n" + _dumps(_wrapped(t)) for t in tools))


def _default_calls(calls: list[Call]) -> str:
    return "\n".join(f"Action: {name}\nAction Input: {args}" for name, args in calls)


def _llama3_calls(calls: list[Call]) -> str:
    objs = [{"name": name, "parameters": json.loads(args)} for name, args in calls]
    return _dumps(objs[0] if len(objs) == 1 else objs)


def _mistral_calls(calls: list[Call]) -> str:
    return _dumps([{"name": name, "arguments": json.loads(args)} for name, args in calls])


def _qwen_calls(calls: list[Call]) -> str:
    texts = [_dumps({"name": name, "arguments": json.loads(args)}) for name, args in calls]
    return "\n".join(f"<tool_call>\n{text}\n</tool_call>" for text in texts)


FORMATS: dict[str, tuple[Callable[[list[dict[str, Any]]], str], Callable[[list[Call]], str]]] = {
    "default": (_default_tools, _default_calls),
    "llama3": (_llama3_tools, _llama3_calls),
    "mistral": (_mistral_tools, _mistral_calls),
    "qwen": (_qwen_tools, _qwen_calls),
}


class BadToolText(ValueError):
    """A tools column or a function call that is not the JSON the template needs; the row is dropped."""


def tools_text(tools: str, fmt: str) -> str:
    try:
        parsed = json.loads(tools)
        return FORMATS[fmt][0](parsed) if len(parsed) else ""
    except (json.JSONDecodeError, KeyError, TypeError, AttributeError) as exc:
        raise BadToolText("tools") from exc


def calls_text(content: str, fmt: str) -> str:
    """A function turn's JSON ({name, arguments} or a list of them) in the family's call syntax.

    Text before the JSON (an OpenAI message with both content and tool_calls) is kept in front of it,
    and a <think> block goes first, as LLaMA-Factory does."""
    thought = THOUGHT.search(content)
    if thought:
        content = content.replace(thought.group(0), "")
    lead, body = thought.group(0) if thought else "", content
    try:
        parsed = json.loads(body)
    except json.JSONDecodeError:
        lead, _, body = content.rpartition("\n")
        try:
            parsed = json.loads(body)
        except json.JSONDecodeError as exc:
            raise BadToolText("function") from exc
        lead = (thought.group(0) if thought else "") + lead + "\n"
    try:
        calls = [(c["name"], _dumps(c["arguments"])) for c in (parsed if isinstance(parsed, list) else [parsed])]
        return lead + FORMATS[fmt][1](calls)
    except (KeyError, TypeError, json.JSONDecodeError) as exc:
        raise BadToolText("function") from exc
