"""rows -> Conversation, per dataset formatting (alpaca, sharegpt), mapping columns and tags."""

from __future__ import annotations

from collections.abc import Callable

from studio.data.conversation import Conversation, Turn
from studio.data.readers import Row
from studio.data.registry import DatasetEntry
from studio.errors import StudioError


def _column(row: Row, column: str | None, *, where: tuple[str, int], role: str,
            required: bool = False) -> object:
    if not column:
        return None
    if column not in row:
        if required:
            raise StudioError("convert.missing_column", file=where[0], row=where[1], column=column, role=role)
        return None
    return row[column]


def _string(value: object, column: str, where: tuple[str, int]) -> str:
    if value is None:
        return ""
    if not isinstance(value, str | int | float):
        raise StudioError("convert.bad_type", file=where[0], row=where[1], column=column,
                          expected="text", found=type(value).__name__)
    return str(value)


def _alpaca(row: Row, entry: DatasetEntry, where: tuple[str, int]) -> Conversation:
    cols = entry.columns
    prompt = _string(_column(row, cols["prompt"], where=where, role="prompt", required=True), "prompt", where)
    query = _string(_column(row, cols["query"], where=where, role="query"), "query", where)
    response = _column(row, cols["response"], where=where, role="response", required=True)
    system = _string(_column(row, cols["system"], where=where, role="system"), "system", where)
    turns: list[Turn] = []
    history = _column(row, cols["history"], where=where, role="history") or []
    if not isinstance(history, list) or not all(isinstance(p, list) and len(p) == 2 for p in history):
        raise StudioError("convert.bad_type", file=where[0], row=where[1], column=str(cols["history"]),
                          expected="a list of [question, answer] pairs", found=type(history).__name__)
    for question, answer in history:
        turns += [Turn("user", str(question)), Turn("assistant", str(answer))]
    user = "\n".join(part for part in (prompt, query) if part)
    turns += [Turn("user", user), Turn("assistant", _string(response, str(cols["response"]), where))]
    return Conversation(turns=tuple(turns), system=system)


def _sharegpt(row: Row, entry: DatasetEntry, where: tuple[str, int]) -> Conversation:
    cols, tags = entry.columns, entry.tags
    messages = _column(row, cols["messages"], where=where, role="messages", required=True)
    if not isinstance(messages, list):
        raise StudioError("convert.bad_type", file=where[0], row=where[1], column=str(cols["messages"]),
                          expected="a list of messages", found=type(messages).__name__)
    roles = {tags["user_tag"]: "user", tags["assistant_tag"]: "assistant",
             tags["observation_tag"]: "tool", tags["function_tag"]: "function"}
    system = _string(_column(row, cols["system"], where=where, role="system"), "system", where)
    turns: list[Turn] = []
    for i, message in enumerate(messages, start=1):
        if not isinstance(message, dict):
            raise StudioError("convert.bad_type", file=where[0], row=where[1], column=str(cols["messages"]),
                              expected="a list of objects", found=type(message).__name__)
        tag = message.get(tags["role_tag"])
        content = _string(message.get(tags["content_tag"]), tags["content_tag"], where)
        if tag == tags["system_tag"] and i == 1:
            system = content
            continue
        if tag not in roles:
            raise StudioError("convert.bad_role", file=where[0], row=where[1], index=i, role=tag,
                              expected=", ".join(roles))
        turns.append(Turn(roles[tag], content))  # type: ignore[arg-type]
    tools = _string(_column(row, cols["tools"], where=where, role="tools"), "tools", where)
    return Conversation(turns=tuple(turns), system=system, tools=tools)


CONVERTERS: dict[str, Callable[[Row, DatasetEntry, tuple[str, int]], Conversation]] = {
    "alpaca": _alpaca,
    "sharegpt": _sharegpt,
}


def to_conversation(row: Row, entry: DatasetEntry, row_number: int) -> Conversation:
    """One row as a Conversation; a row without an assistant answer is refused, naming the row."""
    where = (entry.file_name, row_number)
    conv = CONVERTERS[entry.formatting](row, entry, where)
    if not any(t.role == "assistant" and t.content for t in conv.turns):
        raise StudioError("convert.empty", file=where[0], row=row_number)
    return conv
