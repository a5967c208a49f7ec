"""A data file's sample -> a proposed mapping (format, columns, tags, fixes), its check, and the registry entry.

Detection only proposes: every value is editable in the form (or by --column / --tag on the CLI).
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field

from studio.core.errors import StudioError
from studio.data.readers import Record
from studio.data.registry import DEFAULT_COLUMNS, DEFAULT_TAGS, MEDIA, OPENAI_TAGS, DatasetEntry

# Column names we recognise, most likely first (compared case-insensitively).
NAMES: dict[str, tuple[str, ...]] = {
    "prompt": ("instruction", "prompt", "question", "instruct", "problem", "query", "input", "human"),
    "query": ("input", "query", "context", "evidence", "hint", "passage"),
    "response": ("output", "response", "answer", "completion", "target", "solution", "assistant", "reply"),
    "system": ("system", "system_prompt", "sys"),
    "history": ("history",),
    "tools": ("tools", "functions"),
    "messages": ("conversations", "messages", "conversation", "dialog", "dialogue", "chat", "turns"),
    "text": ("text", "content", "document", "raw_content", "body", "completion"),
    "images": ("images", "image", "image_path", "img", "picture"),
    "videos": ("videos", "video"),
    "audios": ("audios", "audio"),
    "chosen": ("chosen", "preferred", "chosen_response", "better", "accepted"),
    "rejected": ("rejected", "dispreferred", "rejected_response", "worse"),
    "kto_tag": ("kto_tag", "label", "desirable", "is_good"),
}
PREFERENCE = ("chosen", "rejected", "kto_tag")  # mapping chosen + rejected makes a pair entry (ranking)
ROLE_KEYS = ("from", "role", "speaker", "author")
CONTENT_KEYS = ("value", "content", "text", "message")
TAG_VALUES: dict[str, tuple[str, ...]] = {
    "user_tag": ("human", "user", "Human", "USER", "User"),
    "assistant_tag": ("gpt", "assistant", "bot", "model", "Assistant", "ASSISTANT", "chatgpt"),
    "observation_tag": ("observation", "tool", "function_response", "ipython"),
    "function_tag": ("function_call", "tool_call", "function"),
    "system_tag": ("system", "System", "SYSTEM"),
}
REQUIRED = {"alpaca": ("prompt", "response"), "sharegpt": ("messages",), "openai": ("messages",),
            "text": ("prompt",)}
# Which column keys each format's form shows, in order.
FORM_COLUMNS: dict[str, tuple[str, ...]] = {
    "alpaca": ("prompt", "query", "response", "system", "history", *PREFERENCE, *MEDIA),
    "sharegpt": ("messages", "system", "tools", *PREFERENCE, *MEDIA),
    "openai": ("messages", "system", "tools", *PREFERENCE, *MEDIA),
    "text": ("prompt",),
}
SAMPLE = 200


@dataclass
class Proposal:
    formatting: str
    columns: dict[str, str | None]
    tags: dict[str, str]
    fixes: list[str] = field(default_factory=list)
    notes: list[StudioError] = field(default_factory=list)  # what we noticed, as sentences
    file_columns: list[str] = field(default_factory=list)  # the real column names, for dropdowns
    message_keys: list[str] = field(default_factory=list)  # keys seen inside messages
    role_values: list[str] = field(default_factory=list)  # values seen under the role key


def _pick(candidates: Sequence[str], available: Sequence[str], taken: frozenset[str] | set[str] = frozenset()
          ) -> str | None:
    lowered = {c.lower(): c for c in available if c not in taken}
    return next((lowered[n.lower()] for n in candidates if n.lower() in lowered), None)


def _chat_column(rows: list[dict[str, object]], columns: list[str]) -> str | None:
    """The column holding lists of message objects (by name first, then by shape)."""
    def is_messages(col: str) -> bool:
        values = [r[col] for r in rows if col in r]
        return bool(values) and all(isinstance(v, list) and v and all(isinstance(m, dict) for m in v)
                                    for v in values[:20])
    named = _pick(NAMES["messages"], columns)
    if named and is_messages(named):
        return named
    return next((c for c in columns if is_messages(c)), None)


def detect(records: Sequence[Record]) -> Proposal:
    """Propose a mapping from the first rows of a file."""
    rows = [r.row for r in records[:SAMPLE]]
    columns = list(dict.fromkeys(k for r in rows for k in r))
    chat = _chat_column(rows, columns)
    if chat:
        proposal = _detect_chat(rows, columns, chat)
    elif (prompt := _pick(NAMES["prompt"], columns)) and (response := _pick(NAMES["response"], columns, {prompt})):
        taken = {prompt, response}
        query = _pick(NAMES["query"], columns, taken)
        proposal = Proposal("alpaca", {"prompt": prompt, "query": query, "response": response,
                                       "system": _pick(NAMES["system"], columns, taken),
                                       "history": _pick(NAMES["history"], columns, taken)}, dict(DEFAULT_TAGS))
    elif text := _pick(NAMES["text"], columns) or (columns[0] if len(columns) == 1 else None):
        proposal = Proposal("text", {"prompt": text}, dict(DEFAULT_TAGS))
    else:  # alpaca with what we could find; the form asks for the rest
        prompt = _pick(NAMES["prompt"], columns)
        proposal = Proposal("alpaca", {"prompt": prompt, "query": _pick(NAMES["query"], columns, {prompt or ""}),
                                       "response": _pick(NAMES["response"], columns)}, dict(DEFAULT_TAGS))
    proposal.file_columns = columns
    if proposal.formatting != "text":
        _detect_preference(rows, columns, proposal)
        _detect_media(rows, columns, proposal)
    return proposal


def _detect_preference(rows: list[dict[str, object]], columns: list[str], proposal: Proposal) -> None:
    """Two answer columns (chosen / rejected: a pair entry), or a true / false column judging one answer (KTO)."""
    taken = {v for v in proposal.columns.values() if v}
    chosen, rejected = _pick(NAMES["chosen"], columns, taken), _pick(NAMES["rejected"], columns, taken)
    if chosen and rejected:
        proposal.columns |= {"chosen": chosen, "rejected": rejected}
        if proposal.columns.get("response") in (chosen, rejected):
            proposal.columns["response"] = None
        return
    tag = _pick(NAMES["kto_tag"], columns, taken)
    values = [r[tag] for r in rows if tag and tag in r]
    flags = sum(isinstance(v, bool) for v in values)
    if tag and flags and flags >= len(values) / 2:  # mostly true / false: a KTO judgement, its odd rows said
        proposal.columns["kto_tag"] = tag
        if flags < len(values):
            proposal.notes.append(StudioError("detect.kto_not_bool", column=tag, rows=len(values) - flags,
                                              total=len(values)))


def _detect_chat(rows: list[dict[str, object]], columns: list[str], chat: str) -> Proposal:
    messages = [m for r in rows for m in r.get(chat) or [] if isinstance(m, dict)]  # type: ignore[union-attr]
    keys = list(dict.fromkeys(k for m in messages for k in m))
    role_key = _pick(ROLE_KEYS, keys) or (keys[0] if keys else "from")
    content_key = _pick(CONTENT_KEYS, keys, {role_key}) or "value"
    seen = Counter(str(m.get(role_key)) for m in messages if role_key in m)
    values = list(seen)
    base = OPENAI_TAGS if role_key == "role" and set(values) <= {"system", "user", "assistant", "tool"} else DEFAULT_TAGS
    formatting = "openai" if base is OPENAI_TAGS else "sharegpt"
    tags = dict(base, role_tag=role_key, content_tag=content_key)
    for tag, names in TAG_VALUES.items():
        if found := next((n for n in names if n in seen), None):
            tags[tag] = found
    notes = _guess_speakers(rows, chat, role_key, seen, tags)
    taken = {chat}
    cols: dict[str, str | None] = {"messages": chat, "system": _pick(NAMES["system"], columns, taken),
                                   "tools": _pick(NAMES["tools"], columns, taken)}
    return Proposal(formatting, cols, tags, notes=notes, message_keys=keys, role_values=values)


def _guess_speakers(rows: list[dict[str, object]], chat: str, role_key: str, seen: Counter[str],
                    tags: dict[str, str]) -> list[StudioError]:
    """Role names of our own (speaker/text, customer/agent): the one that most often speaks first is the user,
    the one that most often answers it the assistant. Only roles no known name matched are guessed."""
    if tags["user_tag"] in seen and tags["assistant_tag"] in seen:
        return []
    fixed = {tags[t] for t in ("system_tag", "observation_tag", "function_tag")}
    first: Counter[str] = Counter()
    second: Counter[str] = Counter()
    for row in rows:
        spoken = [str(m.get(role_key)) for m in row.get(chat) or [] if isinstance(m, dict) and role_key in m]
        spoken = [r for r in spoken if r not in fixed]
        if spoken:
            first[spoken[0]] += 1
        if len(spoken) > 1 and spoken[1] != spoken[0]:
            second[spoken[1]] += 1
    user = tags["user_tag"] if tags["user_tag"] in seen else next((r for r, _ in first.most_common()), None)
    assistant = tags["assistant_tag"] if tags["assistant_tag"] in seen else \
        next((r for r, _ in second.most_common() if r != user), None)
    if not (user and assistant):
        return []
    tags["user_tag"], tags["assistant_tag"] = user, assistant
    return [StudioError("detect.roles_guessed", user=user, assistant=assistant)]


def _detect_media(rows: list[dict[str, object]], columns: list[str], proposal: Proposal) -> None:
    """Find image / video / audio columns; propose the repairs LLaMA-Factory would otherwise fail on."""
    from studio.data.convert import PLACEHOLDERS

    for kind in MEDIA:
        column = _pick(NAMES[kind], columns, set(v for v in proposal.columns.values() if v))
        if not column:
            continue
        proposal.columns[kind] = column
        values = [r[column] for r in rows if r.get(column) not in (None, "", [])]
        if any(isinstance(v, str) for v in values):
            proposal.notes.append(StudioError("detect.media_string", column=column))
            if "media_as_list" not in proposal.fixes:
                proposal.fixes.append("media_as_list")
        tag = PLACEHOLDERS[kind]
        with_media = [r for r in rows if r.get(column) not in (None, "", [])]
        lacking = sum(tag not in _all_text(r) for r in with_media)
        if lacking:
            proposal.notes.append(StudioError("detect.no_placeholder", tag=tag, column=column, rows=lacking,
                                              total=len(with_media)))
            if kind == "images" and "image_placeholder" not in proposal.fixes:
                proposal.fixes.append("image_placeholder")


def _all_text(row: dict[str, object]) -> str:
    return json.dumps(row, ensure_ascii=False)


def build_raw(file_name: str, formatting: str, columns: dict[str, str | None], tags: dict[str, str],
              fixes: Sequence[str] = ()) -> dict[str, object]:
    """The dataset_info.json entry for a form's values, written the way LLaMA-Factory reads it."""
    raw: dict[str, object] = {"file_name": file_name}
    shown = FORM_COLUMNS[formatting]
    if columns.get("chosen") and columns.get("rejected") and formatting != "text":
        raw["ranking"] = True
    if formatting == "text":
        raw["columns"] = {"prompt": columns.get("prompt")}
        return raw
    if formatting != "alpaca":
        raw["formatting"] = "sharegpt"  # LLaMA-Factory 0.9 knows OpenAI messages as sharegpt with these tags
    # Every shown key is written (null when unset): LLaMA-Factory turns a key left out into None anyway.
    raw["columns"] = {k: columns.get(k) or None for k in shown if columns.get(k) or DEFAULT_COLUMNS[formatting].get(k)}
    if formatting != "alpaca":
        raw["tags"] = {k: tags.get(k) or v for k, v in (OPENAI_TAGS if formatting == "openai" else DEFAULT_TAGS).items()}
    if fixes:
        raw["fixes"] = {k: True for k in fixes}
    return raw


def check_mapping(entry: DatasetEntry, records: Sequence[Record]) -> list[StudioError]:
    """Mapped columns that the file does not have (naming the real ones) and required roles left empty."""
    columns = list(dict.fromkeys(k for r in records[:SAMPLE] for k in r.row))
    problems: list[StudioError] = []
    required = REQUIRED[entry.formatting]
    if entry.ranking:  # the answers are the chosen and rejected columns
        required = tuple(k for k in required if k != "response") + ("chosen", "rejected")
    for key in required:
        if not entry.columns.get(key):
            problems.append(StudioError("mapping.required", role=key))
    for key in FORM_COLUMNS[entry.formatting]:
        column = entry.columns.get(key)
        explicit = key in (entry.raw.get("columns") or {})  # type: ignore[operator]
        if column and column not in columns and (explicit or key in required):
            problems.append(StudioError("mapping.unknown_column", column=column, role=key, file=entry.file_name,
                                        found=", ".join(columns)))
    return problems
