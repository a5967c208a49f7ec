"""dataset_info.json <-> dataset entries, read as LLaMA-Factory writes it; atomic write-back."""

from __future__ import annotations

import json
import os
import shutil
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

from studio.errors import StudioError

Formatting = Literal["alpaca", "sharegpt"]
FORMATTINGS: tuple[str, ...] = ("alpaca", "sharegpt")
REMOTE_KEYS = ("hf_hub_url", "ms_hub_url", "om_hub_url", "script_url", "cloud_file_name")

# The documented defaults; a block naming only some keys keeps these for the others.
DEFAULT_COLUMNS: dict[str, dict[str, str | None]] = {
    "alpaca": {"prompt": "instruction", "query": "input", "response": "output", "system": None,
               "history": None},
    "sharegpt": {"messages": "conversations", "system": None, "tools": None},
}
DEFAULT_TAGS: dict[str, str] = {
    "role_tag": "from", "content_tag": "value", "user_tag": "human", "assistant_tag": "gpt",
    "observation_tag": "observation", "function_tag": "function_call", "system_tag": "system",
}

State = Literal["ok", "missing", "remote"]


@dataclass(frozen=True)
class DatasetEntry:
    name: str
    file_name: str = ""
    formatting: Formatting = "alpaca"
    columns: dict[str, str | None] = field(default_factory=dict)
    tags: dict[str, str] = field(default_factory=dict)
    remote: bool = False
    raw: dict[str, object] = field(default_factory=dict)

    @classmethod
    def parse(cls, name: str, raw: dict[str, object]) -> DatasetEntry:
        formatting = raw.get("formatting", "alpaca")
        if formatting not in FORMATTINGS:
            raise StudioError("registry.bad_formatting", name=name, value=formatting,
                              expected=", ".join(FORMATTINGS))
        given_columns = raw.get("columns") or {}
        given_tags = raw.get("tags") or {}
        return cls(
            name=name,
            file_name=str(raw.get("file_name", "")),
            formatting=formatting,  # type: ignore[arg-type]
            columns={**DEFAULT_COLUMNS[str(formatting)], **given_columns},  # type: ignore[dict-item]
            tags={**DEFAULT_TAGS, **given_tags},  # type: ignore[dict-item]
            remote=any(k in raw for k in REMOTE_KEYS),
            raw=raw,
        )

    def path(self, data_dir: Path) -> Path:
        return data_dir / self.file_name

    def state(self, data_dir: Path) -> State:
        if self.remote:
            return "remote"
        return "ok" if self.file_name and self.path(data_dir).exists() else "missing"


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


def register(path: Path, name: str, raw: dict[str, object]) -> None:
    """Add or replace one entry, keeping every other entry, their order and their text as they were."""
    DatasetEntry.parse(name, raw)  # refuse a bad entry before touching the file
    data: dict[str, object] = {}
    if path.exists():
        data = json.loads(path.read_text(encoding="utf-8-sig"))
        shutil.copy2(path, path.with_name(path.name + ".bak"))
    data[name] = raw
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.write_text(json.dumps(data, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")
    os.replace(tmp, path)
