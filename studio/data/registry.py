"""dataset_info.json <-> dataset entries, read as LLaMA-Factory writes it; atomic write-back."""

from __future__ import annotations

import json
import os
import shutil
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

from studio.core.errors import StudioError
from studio.core.workspace import DATA_DIRS_ENV, check_name, env_roots, inside

# "openai" is sharegpt with OpenAI's role / content names (and tool_calls); "text" is an alpaca entry
# that maps only `prompt` to a text column, which is how LLaMA-Factory registers pre-training data.
Formatting = Literal["alpaca", "sharegpt", "openai", "text"]
FORMATTINGS: tuple[str, ...] = ("alpaca", "sharegpt", "openai", "text")
REMOTE_KEYS = ("hf_hub_url", "ms_hub_url", "om_hub_url", "script_url", "cloud_file_name")
MEDIA = ("images", "videos", "audios")

# The documented defaults; a block naming only some keys keeps these for the others.
DEFAULT_COLUMNS: dict[str, dict[str, str | None]] = {
    "alpaca": {"prompt": "instruction", "query": "input", "response": "output", "system": None,
               "history": None, "images": None, "videos": None, "audios": None},
    "sharegpt": {"messages": "conversations", "system": None, "tools": None, "images": None, "videos": None,
                 "audios": None},
    "openai": {"messages": "messages", "system": None, "tools": None, "images": None, "videos": None,
               "audios": None},
    "text": {"prompt": "text"},
}
DEFAULT_TAGS: dict[str, str] = {
    "role_tag": "from", "content_tag": "value", "user_tag": "human", "assistant_tag": "gpt",
    "observation_tag": "observation", "function_tag": "function_call", "system_tag": "system",
}
OPENAI_TAGS: dict[str, str] = {
    "role_tag": "role", "content_tag": "content", "user_tag": "user", "assistant_tag": "assistant",
    "observation_tag": "tool", "function_tag": "function_call", "system_tag": "system",
}
# Conversion-time repairs a user can switch on without editing the data file (kept under "fixes";
# LLaMA-Factory ignores keys it does not know).
FIXES = ("media_as_list", "image_placeholder")

State = Literal["ok", "missing", "remote", "outside"]


def data_roots(data_dir: Path) -> tuple[Path, ...]:
    """Where registered files may live: the data folder and the operator's --data-dir roots."""
    return (data_dir.resolve(), *env_roots(DATA_DIRS_ENV))


@dataclass(frozen=True)
class DatasetEntry:
    name: str
    file_name: str = ""
    formatting: Formatting = "alpaca"
    columns: dict[str, str | None] = field(default_factory=dict)
    tags: dict[str, str] = field(default_factory=dict)
    remote: bool = False
    ranking: bool = False
    fixes: tuple[str, ...] = ()
    raw: dict[str, object] = field(default_factory=dict)

    @classmethod
    def parse(cls, name: str, raw: dict[str, object]) -> DatasetEntry:
        formatting = raw.get("formatting", "alpaca")
        if formatting not in FORMATTINGS:
            raise StudioError("registry.bad_formatting", name=name, value=formatting,
                              expected=", ".join(FORMATTINGS[:3]))
        given_columns, given_tags = raw.get("columns") or {}, raw.get("tags") or {}
        for key, block in (("columns", given_columns), ("tags", given_tags)):
            if not isinstance(block, dict) or not all(isinstance(v, str | None) for v in block.values()):
                raise StudioError("registry.bad_block", name=name, key=key)
        if formatting == "alpaca" and set(given_columns) == {"prompt"}:
            formatting = "text"  # may still turn out to be alpaca: see `resolved`
        tags = OPENAI_TAGS if formatting == "openai" else DEFAULT_TAGS
        fixes = raw.get("fixes") or {}
        return cls(
            name=name,
            file_name=str(raw.get("file_name", "")),
            formatting=formatting,  # type: ignore[arg-type]
            columns={**DEFAULT_COLUMNS[str(formatting)], **given_columns},  # type: ignore[dict-item]
            tags={**tags, **given_tags},  # type: ignore[dict-item]
            remote=any(k in raw for k in REMOTE_KEYS),
            ranking=bool(raw.get("ranking")),
            fixes=tuple(k for k in FIXES if isinstance(fixes, dict) and fixes.get(k)),
            raw=raw,
        )

    def resolved(self, first_row: dict[str, object]) -> DatasetEntry:
        """A prompt-only alpaca entry is text data unless its rows carry the default response column."""
        if self.formatting != "text" or "output" not in first_row or self.raw.get("formatting") == "text":
            return self
        columns = {**DEFAULT_COLUMNS["alpaca"], **self.columns}
        return DatasetEntry(self.name, self.file_name, "alpaca", columns, self.tags, self.remote, self.ranking,
                            self.fixes, self.raw)

    def media_columns(self) -> dict[str, str]:
        return {k: v for k in MEDIA if (v := self.columns.get(k))}

    def path(self, data_dir: Path) -> Path:
        return data_dir / self.file_name

    def state(self, data_dir: Path) -> State:
        """ok / missing / remote, or outside: the file (after symlinks) is not under a data root."""
        if self.remote:
            return "remote"
        if not self.file_name or "\0" in self.file_name or not os.path.lexists(self.path(data_dir)):
            return "missing"
        roots, path = data_roots(data_dir), self.path(data_dir).resolve()
        if not inside(path, roots):
            return "outside"
        if path.is_dir() and not all(inside(p.resolve(), roots) for p in path.iterdir()):
            return "outside"
        return "ok" if path.exists() else "missing"


def load_registry(path: Path) -> dict[str, DatasetEntry]:
    """All entries of a dataset_info.json, in file order; a missing file is an empty registry."""
    if not path.exists():
        return {}
    try:
        data = json.loads(path.read_text(encoding="utf-8-sig"))
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise StudioError("registry.bad", file=path.name, detail=str(exc)) from None
    if not isinstance(data, dict) or not all(isinstance(v, dict) for v in data.values()):
        raise StudioError("registry.bad", file=path.name, detail="an entry is not an object")
    return {name: DatasetEntry.parse(name, raw) for name, raw in data.items()}


def get_entry(path: Path, name: str) -> DatasetEntry:
    entry = load_registry(path).get(name)
    if entry is None:
        raise StudioError("registry.unknown", name=name, file=path.name)
    return entry


def register(path: Path, name: str, raw: dict[str, object], *, overwrite: bool = False) -> None:
    """Add (or, when asked, replace) one entry, keeping every other entry, their order and text as they were."""
    check_name(name, "dataset name")
    DatasetEntry.parse(name, raw)  # refuse a bad entry before touching the file
    data: dict[str, object] = {}
    if path.exists():
        load_registry(path)  # refuse to rewrite a registry we cannot read: the file stays untouched
        data = json.loads(path.read_text(encoding="utf-8-sig"))
        if name in data and not overwrite:
            raise StudioError("registry.exists", name=name, file=path.name)
        shutil.copy2(path, path.with_name(path.name + ".bak"))
    data[name] = raw
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.write_text(json.dumps(data, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")
    os.replace(tmp, path)
