"""rows -> Conversation per dataset formatting (alpaca, sharegpt, openai, text), mapping columns and tags.

A row that cannot be converted raises a StudioError whose key is the reason and whose fields name the
file, row and column; the loader counts those per reason, so no row is ever dropped silently.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass

from studio.core.errors import StudioError
from studio.data.conversation import Conversation, Role, Turn
from studio.data.readers import Row
from studio.data.registry import MEDIA, DatasetEntry

IMAGE, VIDEO, AUDIO = "<image>", "<video>", "<audio>"
PLACEHOLDERS = {"images": IMAGE, "videos": VIDEO, "audios": AUDIO}


@dataclass(frozen=True)
class Where:
    file: str
    row: int
    answers: bool = True  # False: rows to predict for (evaluation), whose answer may be missing or empty

    def fail(self, key: str, **fields: object) -> StudioError:
        return StudioError(key, file=self.file, row=self.row, **fields)


def _column(row: Row, column: str | None, where: Where, role: str, required: bool = False) -> object:
    if not column:
        return None
    if column not in row:
        if required:
            raise where.fail("convert.missing_column", column=column, role=role, found=", ".join(map(str, row)))
        return None
    return row[column]


def _string(value: object, column: str, where: Where) -> str:
    if value is None:
        return ""
    if isinstance(value, bool) or not isinstance(value, str | int | float):
        raise where.fail("convert.bad_type", column=column, expected="text", found=type(value).__name__)
    return str(value)


def _json_text(value: object) -> str:
    """A tools column may hold JSON text or the structure itself; templates want text."""
    if value is None or value == "":
        return ""
    return value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)


def _media(row: Row, entry: DatasetEntry, where: Where) -> dict[str, tuple[str, ...]]:
    found: dict[str, tuple[str, ...]] = {}
    for kind, column in entry.media_columns().items():
        value = row.get(column)
        if value is None or value == []:
            continue
        if isinstance(value, str):
            if "media_as_list" not in entry.fixes:
                raise where.fail("convert.media_not_list", column=column)
            value = [value]
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            raise where.fail("convert.bad_type", column=column, expected="a list of paths",
                             found=type(value).__name__)
        found[kind] = tuple(value)
    return found


def _place_media(turns: list[Turn], media: dict[str, tuple[str, ...]], entry: DatasetEntry,
                 where: Where) -> list[Turn]:
    """Check that placeholders match the media; with the fix on, put missing ones before the first user turn."""
    for kind, paths in media.items():
        tag = PLACEHOLDERS[kind]
        count = sum(t.content.count(tag) for t in turns)
        if count == 0 and paths and "image_placeholder" in entry.fixes:
            first = next(i for i, t in enumerate(turns) if t.role == "user")
            turns[first] = Turn("user", tag * len(paths) + turns[first].content)
            count = len(paths)
        if count != len(paths):
            raise where.fail("convert.media_count", tag=tag, tags=count, files=len(paths), column=entry.columns[kind])
    for kind in MEDIA:  # placeholders without any media column mapped are also a mismatch
        tag = PLACEHOLDERS[kind]
        if kind not in media and (count := sum(t.content.count(tag) for t in turns)) and entry.columns.get(kind):
            raise where.fail("convert.media_count", tag=tag, tags=count, files=0, column=entry.columns[kind])
    return turns


def _alpaca(row: Row, entry: DatasetEntry, where: Where) -> Conversation:
    cols = entry.columns
    prompt = _string(_column(row, cols["prompt"], where, "prompt", required=True), str(cols["prompt"]), where)
    query = _string(_column(row, cols.get("query"), where, "query"), str(cols.get("query")), where)
    if entry.ranking:  # preference rows preview with their chosen answer
        response = _column(row, cols.get("chosen"), where, "chosen", required=True)
        response = response.get("value", response.get("content")) if isinstance(response, dict) else response
        response_col = str(cols.get("chosen"))
    else:
        response_col = str(cols["response"])
        response = _column(row, cols["response"], where, "response", required=where.answers)
        if isinstance(response, list) and len(response) == 1:  # LLaMA-Factory accepts a one-item list
            response = response[0]
    system = _string(_column(row, cols.get("system"), where, "system"), str(cols.get("system")), where)
    turns: list[Turn] = []
    history = _column(row, cols.get("history"), where, "history") or []
    if not isinstance(history, list) or not all(isinstance(p, list | tuple) and len(p) == 2 for p in history):
        raise where.fail("convert.bad_type", column=str(cols.get("history")),
                         expected="a list of [question, answer] pairs", found=type(history).__name__)
    for question, answer in history:
        turns += [Turn("user", _string(question, str(cols.get("history")), where)),
                  Turn("assistant", _string(answer, str(cols.get("history")), where))]
    user = "\n".join(part for part in (prompt, query) if part)
    if not user.strip():
        raise where.fail("convert.empty_prompt", column=str(cols["prompt"]))
    turns += [Turn("user", user), Turn("assistant", _string(response, response_col, where))]
    media = _media(row, entry, where)
    return Conversation(turns=tuple(_place_media(turns, media, entry, where)), system=system, **media)


def _text(row: Row, entry: DatasetEntry, where: Where) -> Conversation:
    column = str(entry.columns["prompt"])
    text = _string(_column(row, column, where, "text", required=True), column, where)
    if not text.strip():
        raise where.fail("convert.empty_text", column=column)
    return Conversation(turns=(Turn("assistant", text),), kind="text")


def _alternate(turns: list[Turn], where: Where) -> None:
    """LLaMA-Factory's rule: user / observation at odd places, assistant / function at even, pairs only."""
    if not turns:
        raise where.fail("convert.no_messages")
    for i, turn in enumerate(turns):
        expected = ("user", "tool") if i % 2 == 0 else ("assistant", "function")
        if turn.role not in expected:
            raise where.fail("convert.role_order", index=i + 1, role=turn.role, expected=" / ".join(expected))
    if len(turns) % 2:
        raise where.fail("convert.odd_count", count=len(turns))


def _sharegpt(row: Row, entry: DatasetEntry, where: Where) -> Conversation:
    cols, tags = entry.columns, entry.tags
    messages = _column(row, cols["messages"], where, "messages", required=True)
    if not isinstance(messages, list):
        raise where.fail("convert.bad_type", column=str(cols["messages"]), expected="a list of messages",
                         found=type(messages).__name__)
    roles: dict[object, Role] = {tags["user_tag"]: "user", tags["assistant_tag"]: "assistant",
                                 tags["observation_tag"]: "tool", tags["function_tag"]: "function"}
    system = _string(_column(row, cols.get("system"), where, "system"), str(cols.get("system")), where)
    turns: list[Turn] = []
    for i, message in enumerate(messages, start=1):
        if not isinstance(message, dict):
            raise where.fail("convert.bad_type", column=str(cols["messages"]), expected="a list of objects",
                             found=type(message).__name__)
        if tags["role_tag"] not in message:
            raise where.fail("convert.missing_key", index=i, key=tags["role_tag"], found=", ".join(map(str, message)))
        tag = message.get(tags["role_tag"])
        content = _content(message.get(tags["content_tag"]), tags["content_tag"], where)
        if tag == tags["system_tag"] and i == 1:
            system = content
            continue
        if tag == "assistant" and message.get("tool_calls") and tags["role_tag"] == "role":
            turns.append(Turn("function", _tool_calls(content, message["tool_calls"])))
            continue
        if tag not in roles:
            raise where.fail("convert.bad_role", index=i, role=tag, expected=", ".join(map(str, roles)))
        if turns and roles[tag] == "tool" == turns[-1].role:  # parallel tool results form one observation
            turns[-1] = Turn("tool", turns[-1].content + "\n" + content)
            continue
        turns.append(Turn(roles[tag], content))
    _alternate(turns, where)
    tools = _json_text(_column(row, cols.get("tools"), where, "tools"))
    media = _media(row, entry, where)
    return Conversation(turns=tuple(_place_media(turns, media, entry, where)), system=system, tools=tools, **media)


PART_TAGS = {"image_url": IMAGE, "image": IMAGE, "video": VIDEO, "input_audio": AUDIO}


def _content(value: object, column: str, where: Where) -> str:
    """A message's content: text, or OpenAI content parts (text joined, media parts become placeholders)."""
    if isinstance(value, list) and all(isinstance(p, dict) for p in value):
        return "".join(str(p.get("text", "")) if p.get("type") == "text" else PART_TAGS.get(str(p.get("type")), "")
                       for p in value)
    return _string(value, column, where)


def _tool_calls(content: str, calls: object) -> str:
    """OpenAI tool_calls -> the function-call text LLaMA-Factory's templates expect."""
    out = []
    for call in calls if isinstance(calls, list) else [calls]:
        fn = call.get("function", call) if isinstance(call, dict) else {}
        args = fn.get("arguments", {})
        try:
            args = json.loads(args) if isinstance(args, str) else args
        except json.JSONDecodeError:
            pass
        out.append({"name": fn.get("name", ""), "arguments": args})
    calls_text = json.dumps(out[0] if len(out) == 1 else out, ensure_ascii=False)
    return f"{content}\n{calls_text}" if content else calls_text


CONVERTERS: dict[str, Callable[[Row, DatasetEntry, Where], Conversation]] = {
    "alpaca": _alpaca,
    "sharegpt": _sharegpt,
    "openai": _sharegpt,  # same walk; the entry carries OpenAI's tag names
    "text": _text,
}


def to_conversation(row: Row, entry: DatasetEntry, row_number: int, file: str | None = None,
                    answers: bool = True) -> Conversation:
    """One row as a Conversation; a row without an assistant answer to learn is refused, naming the row, unless
    `answers` is off (rows to predict for: their last assistant turn is then empty)."""
    where = Where(file or entry.file_name, row_number, answers)
    conv = CONVERTERS[entry.formatting](row, entry, where)
    if answers and conv.kind == "chat" and not conv.turns[-1].content.strip():
        raise where.fail("convert.empty")
    return conv
