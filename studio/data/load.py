"""registered dataset -> conversations, with every unusable row counted and named (never dropped silently)."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from studio.data.conversation import Conversation
from studio.data.convert import to_conversation
from studio.data.readers import Row, read_rows
from studio.data.registry import DatasetEntry, get_entry
from studio.errors import StudioError


@dataclass
class Loaded:
    entry: DatasetEntry
    rows: list[Row]
    conversations: list[Conversation] = field(default_factory=list)
    problems: list[StudioError] = field(default_factory=list)  # one per skipped row


def entry_for(registry_file: Path, name: str) -> DatasetEntry:
    entry = get_entry(registry_file, name)
    if entry.state(registry_file.parent) == "remote":
        raise StudioError("registry.remote", name=name)
    if entry.state(registry_file.parent) == "missing":
        raise StudioError("file.missing", file=entry.file_name or name)
    return entry


def load_dataset(registry_file: Path, name: str, limit: int | None = None) -> Loaded:
    entry = entry_for(registry_file, name)
    rows = read_rows(entry.path(registry_file.parent), limit)
    loaded = Loaded(entry, rows)
    for number, row in enumerate(rows, start=1):
        try:
            loaded.conversations.append(to_conversation(row, entry, number))
        except StudioError as err:
            loaded.problems.append(err)
    if limit is None and rows and not loaded.conversations:
        raise StudioError("data.no_rows", name=name, total=len(rows), reason=loaded.problems[0].text())
    return loaded
