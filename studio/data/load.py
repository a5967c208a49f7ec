"""registered (or proposed) dataset -> conversations, with every unusable row counted and named."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from itertools import islice
from pathlib import Path

from studio.core.errors import StudioError
from studio.core.messages import Both
from studio.data.conversation import Conversation
from studio.data.convert import to_conversation
from studio.data.readers import Record, Row, iter_records, take
from studio.data.registry import DatasetEntry, get_entry

Converted = tuple[Record, Conversation | StudioError]


@dataclass
class Loaded:
    entry: DatasetEntry
    rows: list[Row]
    conversations: list[Conversation] = field(default_factory=list)
    problems: list[StudioError] = field(default_factory=list)  # one per skipped row
    sources: list[str] = field(default_factory=list)  # "file row N" of each conversation, for reports


def entry_for(registry_file: Path, name: str) -> DatasetEntry:
    """A registered entry whose file can be read here (not remote, not missing)."""
    entry = get_entry(registry_file, name)
    state = entry.state(registry_file.parent)
    if state == "remote":
        raise StudioError("registry.remote", name=name)
    if state == "missing":
        raise StudioError("file.missing", file=entry.file_name or name)
    if state == "outside":
        raise StudioError("registry.outside", name=name, file=entry.file_name)
    return entry


def resolve(entry: DatasetEntry, data_dir: Path) -> DatasetEntry:
    """Settle what only the data can tell (a prompt-only alpaca entry is text unless rows have 'output')."""
    if entry.formatting != "text":
        return entry
    first = next(iter_records(entry.path(data_dir), entry.file_name), None)
    return entry.resolved(first.row) if first else entry


def converted(entry: DatasetEntry, data_dir: Path, answers: bool = True) -> Iterator[Converted]:
    """Every row of the entry's file with its conversation or the reason it cannot be used, lazily; with
    `answers` off, rows without an answer are kept (to predict for)."""
    entry = resolve(entry, data_dir)
    for record in iter_records(entry.path(data_dir), entry.file_name):
        try:
            yield record, to_conversation(record.row, entry, record.number, record.file, answers)
        except StudioError as err:
            yield record, err


def page(entry: DatasetEntry, data_dir: Path, start: int, count: int) -> tuple[list[Converted], bool]:
    """Rows start .. start+count-1 (0-based) converted, and whether more follow; reads no further."""
    return take(converted(entry, data_dir), start, count)


def load_dataset(registry_file: Path, name: str, limit: int | None = None) -> Loaded:
    """The usable conversations of a registered dataset (`num_samples` caps them, as in LLaMA-Factory)."""
    entry = entry_for(registry_file, name)
    if entry.ranking and limit is None:
        raise StudioError("registry.ranking", name=name, stage="sft")
    cap = entry.raw.get("num_samples")
    limit = limit if limit is not None else (cap if isinstance(cap, int) and cap > 0 else None)
    loaded = Loaded(resolve(entry, registry_file.parent), [])
    for record, result in islice(converted(entry, registry_file.parent), limit):
        loaded.rows.append(record.row)
        if isinstance(result, StudioError):
            loaded.problems.append(result)
        else:
            loaded.conversations.append(result)
            loaded.sources.append(f"{record.file} row {record.number}")
    if limit is None and loaded.rows and not loaded.conversations:
        raise no_rows_error(name, len(loaded.rows), loaded.problems)
    return loaded


_SURVEY: dict[tuple[object, ...], StudioError | None] = {}


def survey(entry: DatasetEntry, data_dir: Path, answers: bool = True) -> StudioError | None:
    """Before a launch: the reason nothing of this dataset would survive conversion, or None when rows do.

    Reads the whole file once per (entry, file size, mtime) in this process; later calls are free.
    """
    path = entry.path(data_dir)
    stat = path.stat()
    key = (entry.name, json.dumps(entry.raw, sort_keys=True), str(path), stat.st_size, stat.st_mtime_ns, answers)
    if key not in _SURVEY:
        total, problems = 0, []
        try:
            for _, result in converted(entry, data_dir, answers):
                total += 1
                if not isinstance(result, StudioError):
                    problems = []
                    break
                problems.append(result)
            _SURVEY[key] = no_rows_error(entry.name, total, problems) if problems else None
        except StudioError as err:  # unreadable file: that is the reason
            _SURVEY[key] = err
    return _SURVEY[key]


def no_rows_error(name: str, total: int, problems: list[StudioError]) -> StudioError:
    """Nothing survives: name the most frequent reasons, each with one example row."""
    by_reason: dict[str, list[StudioError]] = {}
    for problem in problems:
        by_reason.setdefault(problem.key, []).append(problem)
    top = sorted(by_reason.values(), key=len, reverse=True)[:3]
    en, zh = (" | ".join(f"{len(g)}× {g[0].text(lang)}" for g in top) for lang in ("en", "zh"))
    return StudioError("data.no_rows", name=name, total=total, reason=Both(en, zh))
