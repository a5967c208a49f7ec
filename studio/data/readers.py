"""file on disk -> rows (dicts): json, jsonl and csv, with errors that name the file and line."""

from __future__ import annotations

import csv
import json
from collections.abc import Callable, Iterator
from itertools import islice
from pathlib import Path

from studio.errors import StudioError

Row = dict[str, object]


def _text(path: Path) -> str:
    if not path.is_file():
        raise StudioError("file.missing", file=path.name)
    try:
        text = path.read_text(encoding="utf-8-sig")  # tolerate a BOM
    except UnicodeDecodeError as exc:
        raise StudioError("file.not_utf8", file=path.name, detail=f"byte {exc.start}") from None
    if not text.strip():
        raise StudioError("file.empty", file=path.name)
    return text


def _type_name(value: object) -> str:
    return {dict: "object", list: "list", str: "string"}.get(type(value), type(value).__name__)


def _read_json(path: Path) -> Iterator[Row]:
    text = _text(path)
    if text.lstrip().startswith("{") and "\n{" in text.strip():
        yield from _read_jsonl(path)  # LLaMA-Factory accepts one object per line in .json files too
        return
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise StudioError("file.bad_json", file=path.name, line=exc.lineno, detail=exc.msg) from None
    if not isinstance(data, list):
        raise StudioError("file.not_rows", file=path.name, found=_type_name(data))
    for i, row in enumerate(data, start=1):
        if not isinstance(row, dict):
            raise StudioError("file.row_not_object", file=path.name, row=i, found=_type_name(row))
        yield row


def _read_jsonl(path: Path) -> Iterator[Row]:
    for i, line in enumerate(_text(path).splitlines(), start=1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
        except json.JSONDecodeError as exc:
            raise StudioError("file.bad_jsonl", file=path.name, line=i, detail=exc.msg) from None
        if not isinstance(row, dict):
            raise StudioError("file.row_not_object", file=path.name, row=i, found=_type_name(row))
        yield row


def _read_csv(path: Path) -> Iterator[Row]:
    yield from csv.DictReader(_text(path).splitlines())


READERS: dict[str, Callable[[Path], Iterator[Row]]] = {
    ".json": _read_json,
    ".jsonl": _read_jsonl,
    ".csv": _read_csv,
}


def read_rows(path: Path, limit: int | None = None) -> list[Row]:
    """The rows of a data file (the first `limit` of them when given)."""
    reader = READERS.get(path.suffix.lower())
    if reader is None:
        raise StudioError("file.unsupported", file=path.name, ext=path.suffix, expected=", ".join(READERS))
    return list(islice(reader(path), limit))
