"""A small interpreter for the part of Go's text/template that Ollama templates use: text, {{ .Field }},
{{ $var }}, {{ "literal" }}, {{ if COND }} / {{ else if COND }} / {{ else }} / {{ end }}, {{ range .Messages }},
{{ $v := X }} and {{ $v = X }}, with COND one of X, `eq X "text"` or `and X Y`. Anything else raises, so a
Modelfile using more than this is noticed rather than rendered wrongly."""

from __future__ import annotations

import re
import shlex
from typing import Any

_ACTION = re.compile(r"\{\{(-?)\s*(.*?)\s*(-?)\}\}", re.DOTALL)


def _parse(source: str) -> list[Any]:
    pieces: list[Any] = []
    pos = 0
    for match in _ACTION.finditer(source):
        text = source[pos:match.start()]
        if match[1]:
            text = text.rstrip()
        pieces.append(("text", text))
        pieces.append(("action", match[2], bool(match[3])))
        pos = match.end()
    pieces.append(("text", source[pos:]))
    out: list[Any] = []
    trim_next = False
    for piece in pieces:
        if piece[0] == "text":
            out.append(("text", piece[1].lstrip() if trim_next else piece[1]))
            trim_next = False
        else:
            out.append(("action", piece[1]))
            trim_next = piece[2]
    tree, rest = _block(out, 0)
    assert rest == len(out), "unbalanced {{ end }}"
    return tree


def _block(items: list[Any], i: int) -> tuple[list[Any], int]:
    """Nodes until an {{ end }} / {{ else ... }} at this level (not consumed)."""
    nodes: list[Any] = []
    while i < len(items):
        kind, body = items[i]
        if kind == "text":
            nodes.append(("text", body))
            i += 1
            continue
        word = body.split(" ", 1)[0]
        if word in ("end", "else"):
            return nodes, i
        if word in ("if", "range"):
            branches = []
            cond = body[len(word):].strip()
            while True:
                inner, i = _block(items, i + 1)
                branches.append((cond, inner))
                end = items[i][1]
                if end == "end":
                    i += 1
                    break
                cond = end[len("else"):].strip()
                cond = cond[len("if"):].strip() if cond.startswith("if ") else "true"
            nodes.append((word, branches))
            continue
        nodes.append(("expr", body))
        i += 1
    return nodes, i


def _value(expr: str, dot: Any, env: dict[str, Any]) -> Any:
    words = shlex.split(expr, posix=False)
    if words[0] == "eq":
        return _value(words[1], dot, env) == _value(words[2], dot, env)
    if words[0] == "and":
        return all(_value(w, dot, env) for w in words[1:])
    if len(words) != 1:
        raise ValueError(f"unsupported expression: {expr}")
    word = words[0]
    if word == "true":
        return True
    if word.startswith('"'):
        return word[1:-1].encode().decode("unicode_escape")
    if word.startswith("$."):
        return env["$"][word[2:]]
    if word.startswith("$"):
        return env[word]
    if word.startswith("."):
        return dot[word[1:]]
    raise ValueError(f"unsupported expression: {expr}")


def _run(nodes: list[Any], dot: Any, env: dict[str, Any], out: list[str]) -> None:
    for node in nodes:
        if node[0] == "text":
            out.append(node[1])
        elif node[0] == "expr":
            assign = re.fullmatch(r"(\$\w+)\s*(:?=)\s*(.+)", node[1])
            if assign:
                env[assign[1]] = _value(assign[3], dot, env)
            else:
                out.append(str(_value(node[1], dot, env)))
        elif node[0] == "if":
            for cond, body in node[1]:
                if _value(cond, dot, env):
                    _run(body, dot, env, out)
                    break
        elif node[0] == "range":
            (what, body), = node[1]
            for item in _value(what, dot, env):
                _run(body, item, env, out)


def render(source: str, values: dict[str, Any]) -> str:
    out: list[str] = []
    _run(_parse(source), values, {"$": values}, out)
    return "".join(out)
