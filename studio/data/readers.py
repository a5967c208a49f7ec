"""file or folder on disk -> rows (dicts), streamed: a preview reads only what it shows.

json (a list, or one object per line), jsonl, csv, parquet, arrow, txt (one text per line) and a
folder of files of one type. Errors name the file and the line or row.
"""

from __future__ import annotations

import csv
import json
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from itertools import islice
from pathlib import Path
from typing import IO, TypeVar

from studio.core.errors import StudioError

Row = dict[str, object]
T = TypeVar("T")
CHUNK = 1 << 20  # bytes read at a time from a JSON list
MAX_ROW_CHARS = 256 << 20  # a single row larger than this is refused rather than filling memory


@dataclass(frozen=True)
class Record:
    file: str  # as shown to the user: the name inside the data folder
    number: int  # 1-based row number in that file (the line for jsonl and txt)
    row: Row


def _type_name(value: object) -> str:
    return {dict: "object", list: "list", str: "string"}.get(type(value), type(value).__name__)


def _open(path: Path) -> IO[str]:
    if not path.is_file():
        raise StudioError("file.missing", file=path.name)
    return path.open(encoding="utf-8-sig", newline="")  # utf-8-sig: tolerate a BOM


def _utf8_guard(label: str, rows: Iterator[Record]) -> Iterator[Record]:
    """Turn a decoding failure deep inside a stream into one sentence naming the file and row."""
    last = 0
    try:
        for record in rows:
            last = record.number
            yield record
    except UnicodeDecodeError as exc:
        raise StudioError("file.not_utf8", file=label, detail=f"after row {last}, {exc.reason}") from None


def _jsonl_lines(label: str, f: IO[str], first_line: int = 1) -> Iterator[Record]:
    for i, line in enumerate(f, start=first_line):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
        except json.JSONDecodeError as exc:
            raise StudioError("file.bad_jsonl", file=label, line=i, detail=exc.msg) from None
        if not isinstance(row, dict):
            raise StudioError("file.row_not_object", file=label, row=i, found=_type_name(row))
        yield Record(label, i, row)


def _json_list(label: str, f: IO[str], buf: str) -> Iterator[Record]:
    """Objects of a top-level JSON list, decoded one at a time from 1 MB chunks."""
    decoder = json.JSONDecoder()
    pos, line, number, eof = buf.index("[") + 1, 1 + buf.count("\n", 0, buf.index("[")), 0, False

    def skip(chars: str) -> None:
        nonlocal pos, line
        while pos < len(buf) and buf[pos] in chars:
            line += buf[pos] == "\n"
            pos += 1

    while True:
        skip(" \t\r\n")
        if pos >= len(buf) and not eof:
            buf, pos = buf[pos:] + f.read(CHUNK), 0
            eof = len(buf) == 0
            continue
        if pos >= len(buf):
            raise StudioError("file.bad_json", file=label, line=line, detail="the list is not closed with ']'")
        if buf[pos] == "]":
            return
        if number and buf[pos] == ",":
            pos += 1
            skip(" \t\r\n")
        while True:
            skip(" \t\r\n")  # raw_decode does not skip whitespace, and a refill may start with some
            try:
                value, end = decoder.raw_decode(buf, pos)
                break
            except json.JSONDecodeError as exc:
                more = "" if eof else f.read(max(CHUNK, len(buf) - pos))
                if not more or len(buf) - pos > MAX_ROW_CHARS:
                    raise StudioError("file.bad_json", file=label, line=line + buf.count("\n", pos, exc.pos),
                                      detail=exc.msg) from None
                eof = False
                buf, pos = buf[pos:] + more, 0
        number += 1
        if not isinstance(value, dict):
            raise StudioError("file.row_not_object", file=label, row=number, found=_type_name(value))
        yield Record(label, number, value)
        line += buf.count("\n", pos, end)
        pos = end
        skip(" \t\r\n")
        if pos >= len(buf) and not eof:
            buf, pos = f.read(CHUNK), 0
            eof = not buf
            skip(" \t\r\n")
        if pos < len(buf) and buf[pos] not in ",]":
            raise StudioError("file.bad_json", file=label, line=line, detail="expected ',' or ']' after a row")


def _read_json(path: Path, label: str) -> Iterator[Record]:
    with _open(path) as f:
        head = f.read(CHUNK)
        body = head.lstrip()
        if not body:
            raise StudioError("file.empty", file=label)
        if body[0] == "[":
            yield from _json_list(label, f, head)
            return
        first, _, rest = head.partition("\n")
        try:  # LLaMA-Factory accepts one object per line in .json files too
            row = json.loads(first)
        except json.JSONDecodeError:
            row = None
        if isinstance(row, dict):
            yield Record(label, 1, row)
            f.seek(0)
            f.readline()
            yield from _jsonl_lines(label, f, first_line=2)
            return
        try:
            data = json.loads(head + f.read())
        except json.JSONDecodeError as exc:
            raise StudioError("file.bad_json", file=label, line=exc.lineno, detail=exc.msg) from None
        raise StudioError("file.not_rows", file=label, found=_type_name(data))


def _read_jsonl(path: Path, label: str) -> Iterator[Record]:
    with _open(path) as f:
        yield from _jsonl_lines(label, f)


def _read_csv(path: Path, label: str) -> Iterator[Record]:
    with _open(path) as f:
        for i, row in enumerate(csv.DictReader(f), start=1):
            yield Record(label, i, {k: v for k, v in row.items() if k is not None})


def _read_txt(path: Path, label: str) -> Iterator[Record]:
    with _open(path) as f:
        for i, line in enumerate(f, start=1):
            text = line.rstrip("\r\n")
            if text.strip():
                yield Record(label, i, {"text": text})


def _arrow_batches(path: Path, label: str) -> Iterator[list[Row]]:
    import pyarrow as pa
    import pyarrow.parquet as pq

    if not path.is_file():
        raise StudioError("file.missing", file=label)
    try:
        if path.suffix.lower() == ".parquet":
            for batch in pq.ParquetFile(path).iter_batches(batch_size=256):
                yield batch.to_pylist()
            return
        source = pa.memory_map(str(path))
        try:  # `datasets` writes the streaming format; other tools write the file format
            reader: object = pa.ipc.open_stream(source)
        except pa.ArrowInvalid:
            reader = pa.ipc.open_file(source)
            for i in range(reader.num_record_batches):  # type: ignore[attr-defined]
                yield reader.get_batch(i).to_pylist()  # type: ignore[attr-defined]
            return
        for batch in reader:  # type: ignore[attr-defined]
            yield batch.to_pylist()
    except (pa.ArrowInvalid, OSError) as exc:
        raise StudioError("file.bad_columnar", file=label, detail=str(exc).splitlines()[0][:200]) from None


def _read_columnar(path: Path, label: str) -> Iterator[Record]:
    number = 0
    for batch in _arrow_batches(path, label):
        for row in batch:
            number += 1
            yield Record(label, number, row)


READERS: dict[str, Callable[[Path, str], Iterator[Record]]] = {
    ".json": _read_json,
    ".jsonl": _read_jsonl,
    ".csv": _read_csv,
    ".parquet": _read_columnar,
    ".arrow": _read_columnar,
    ".txt": _read_txt,
}


def folder_files(folder: Path) -> list[Path]:
    """The data files of a folder, by name; they must all be of one supported type."""
    files = sorted(p for p in folder.iterdir() if p.is_file() and not p.name.startswith("."))
    kinds = {p.suffix.lower() for p in files}
    if not files:
        raise StudioError("file.empty", file=folder.name + "/")
    if len(kinds) > 1 or not kinds <= READERS.keys():
        raise StudioError("folder.mixed", folder=folder.name, found=", ".join(sorted(kinds)),
                          expected=", ".join(READERS))
    return files


def file_kind(path: Path) -> str:
    """The reader a path goes through ('.json', '.csv', ...); a folder takes its files' type."""
    suffix = folder_files(path)[0].suffix.lower() if path.is_dir() else path.suffix.lower()
    if suffix not in READERS:
        raise StudioError("file.unsupported", file=path.name, ext=suffix or "(none)", expected=", ".join(READERS))
    return suffix


def iter_records(path: Path, label: str | None = None) -> Iterator[Record]:
    """Every row of a file or folder, lazily, with its file and row number."""
    label = label or path.name
    kind = file_kind(path)
    files = [(p, f"{label}/{p.name}") for p in folder_files(path)] if path.is_dir() else [(path, label)]
    for file, name in files:
        any_row = False
        for record in _utf8_guard(name, READERS[kind](file, name)):
            any_row = True
            yield record
        if not any_row:
            raise StudioError("file.empty", file=name)


def take(items: Iterator[T], start: int, count: int) -> tuple[list[T], bool]:
    """Items start .. start+count-1 (0-based) and whether more follow, reading one item past them at most.

    A broken item just past the page still means "more follows"; it is reported when paged to.
    """
    start, count = max(0, min(int(start), sys.maxsize - 4096)), max(0, min(int(count), 4096))
    page = list(islice(items, start, start + count))
    try:
        more = next(items, None) is not None
    except StudioError:
        more = True
    return page, more


_COUNTS: dict[tuple[str, int, int], int] = {}


def count_rows(path: Path, label: str | None = None) -> int:
    """How many rows a file or folder holds (read once per file version: the pager's "row N of M")."""
    files = folder_files(path) if path.is_dir() else [path]
    total = 0
    for file in files:
        st = file.stat()
        key = (str(file.resolve()), st.st_mtime_ns, st.st_size)
        if key not in _COUNTS:
            if len(_COUNTS) > 256:
                _COUNTS.clear()
            _COUNTS[key] = sum(1 for _ in iter_records(file, label or file.name))
        total += _COUNTS[key]
    return total


def read_page(path: Path, start: int = 0, count: int = 20, label: str | None = None) -> tuple[list[Record], bool]:
    """Rows start .. start+count-1 (0-based) and whether more follow; reads no further than that."""
    return take(iter_records(path, label), start, count)

