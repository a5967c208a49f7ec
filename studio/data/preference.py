"""Preference rows -> (prompt, chosen, rejected), as LLaMA-Factory reads them; KTO rows -> (prompt, answer, good?).

Pairs: an entry with `"ranking": true`. Alpaca maps prompt / query / system / history and two answer columns,
`chosen` and `rejected` (text); sharegpt / OpenAI maps `messages` (the prompt turns, ending with the user's) and
`chosen` / `rejected` holding one assistant message each. KTO: an entry mapping a `kto_tag` column (true = a good
answer, false = a bad one) beside an ordinary alpaca or sharegpt row, whose last answer is the one judged.
Each side becomes a whole conversation through the very converter SFT uses, so media, tools, roles and their
errors are the same. A pair whose two answers are equal (after whitespace) or with an empty side teaches nothing:
it is refused with its own reason, counted like every other refusal.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field, replace
from pathlib import Path

from studio.core.errors import StudioError
from studio.data.conversation import Conversation, Turn
from studio.data.convert import Where, to_conversation
from studio.data.load import no_rows_error, resolve
from studio.data.readers import Record, Row, iter_records
from studio.data.registry import DatasetEntry

SIDE_KEY = "\x00side"  # the synthetic column an alpaca side is read from (no real column can be named so)


@dataclass(frozen=True)
class Preference:
    prompt: Conversation  # every turn before the judged answer (ends with the user's)
    chosen: str  # KTO: the answer when it is tagged good, else ""
    rejected: str  # KTO: the answer when it is tagged bad, else ""
    kto: bool = False

    @property
    def desirable(self) -> bool:
        return bool(self.chosen)

    def side(self, which: str) -> Conversation:
        """The prompt with one answer appended: what the model reads for that side."""
        answer = self.chosen if which == "chosen" else self.rejected
        return replace(self.prompt, turns=(*self.prompt.turns, Turn("assistant", answer)))


def kind(entry: DatasetEntry) -> str:
    """'pairs' (ranking), 'kto' (a kto_tag column) or 'sft'."""
    return "pairs" if entry.ranking else "kto" if entry.columns.get("kto_tag") else "sft"


def _side(row: Row, entry: DatasetEntry, where: Where, which: str) -> Conversation:
    column = entry.columns.get(which) or which
    if column not in row or row[column] is None:
        raise where.fail("pref.missing_side", side=which, column=column, found=", ".join(map(str, row)))
    value = row[column]
    plain = replace(entry, ranking=False)
    if entry.formatting == "alpaca":
        if isinstance(value, dict):  # LLaMA-Factory's demo files also write an alpaca side as a message object
            value = value.get("value", value.get("content"))
        return to_conversation({**row, SIDE_KEY: value}, replace(plain, columns={**entry.columns, "response": SIDE_KEY}),
                               where.row, where.file, answers=False)
    if not isinstance(value, dict):
        raise where.fail("convert.bad_type", column=column, expected="one message object", found=type(value).__name__)
    messages = entry.columns["messages"]
    turns = row.get(messages) if messages else None
    if not isinstance(turns, list):
        raise where.fail("convert.bad_type", column=str(messages), expected="a list of messages",
                         found=type(turns).__name__)
    return to_conversation({**row, str(messages): [*turns, value]}, plain, where.row, where.file, answers=False)


def to_preference(row: Row, entry: DatasetEntry, number: int, file: str | None = None) -> Preference:
    """One row as a Preference, or a StudioError naming the file, row and what was expected."""
    where = Where(file or entry.file_name, number)
    if kind(entry) == "kto":
        column = str(entry.columns["kto_tag"])
        if column not in row:
            raise where.fail("convert.missing_column", column=column, role="kto_tag", found=", ".join(map(str, row)))
        tag = row[column]
        if not isinstance(tag, bool):
            raise where.fail("pref.bad_kto_tag", column=column, found=repr(tag)[:40])
        conv = to_conversation(row, replace(entry, ranking=False), number, where.file)
        prompt = replace(conv, turns=conv.turns[:-1])
        answer = conv.turns[-1].content
        return Preference(prompt, answer if tag else "", "" if tag else answer, kto=True)
    chosen, rejected = _side(row, entry, where, "chosen"), _side(row, entry, where, "rejected")
    if chosen.turns[:-1] != rejected.turns[:-1]:  # cannot happen through the converters; said if it ever does
        raise where.fail("pref.missing_side", side="rejected", column="messages", found="a different prompt")
    good, bad = chosen.turns[-1].content, rejected.turns[-1].content
    for side, text in (("chosen", good), ("rejected", bad)):
        if not text.strip():
            raise where.fail("pref.empty_side", side=side, column=entry.columns.get(side) or side)
    if " ".join(good.split()) == " ".join(bad.split()):
        raise where.fail("pref.identical", column=f"{entry.columns.get('chosen')} / {entry.columns.get('rejected')}")
    return Preference(replace(chosen, turns=chosen.turns[:-1]), good, bad)


Converted = tuple[Record, Preference | StudioError]


def converted(entry: DatasetEntry, data_dir: Path) -> Iterator[Converted]:
    """Every row of a preference entry with its Preference or the reason it cannot be used, lazily."""
    entry = resolve(entry, data_dir)
    for record in iter_records(entry.path(data_dir), entry.file_name):
        try:
            yield record, to_preference(record.row, entry, record.number, record.file)
        except StudioError as err:
            yield record, err


@dataclass
class LoadedPreferences:
    entry: DatasetEntry
    total: int = 0
    items: list[Preference] = field(default_factory=list)
    problems: list[StudioError] = field(default_factory=list)  # one per skipped row
    sources: list[str] = field(default_factory=list)  # "file row N" of each item


def load_preferences(registry_file: Path, name: str) -> LoadedPreferences:
    """The usable rows of a preference dataset (`num_samples` caps them, as in LLaMA-Factory)."""
    from itertools import islice

    from studio.data.load import entry_for

    entry = entry_for(registry_file, name)
    cap = entry.raw.get("num_samples")
    loaded = LoadedPreferences(resolve(entry, registry_file.parent))
    for record, result in islice(converted(entry, registry_file.parent), cap if isinstance(cap, int) and cap > 0
                                 else None):
        loaded.total += 1
        if isinstance(result, StudioError):
            loaded.problems.append(result)
        else:
            loaded.items.append(result)
            loaded.sources.append(f"{record.file} row {record.number}")
    if loaded.total and not loaded.items:
        raise no_rows_error(name, loaded.total, loaded.problems)
    return loaded
