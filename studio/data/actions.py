"""What the Data tab's buttons do, and their CLI twins: list, files, detect, preview, inspect, register, upload.

Every function takes the data folder (where dataset_info.json lives) and returns plain data.
"""

from __future__ import annotations

import os
import shutil
from dataclasses import dataclass
from itertools import islice
from pathlib import Path
from typing import Any

from studio.core.errors import StudioError
from studio.core.workspace import check_name, check_text
from studio.data.conversation import Conversation
from studio.data.load import entry_for, page
from studio.data.mapping import Proposal, build_raw, check_mapping, detect
from studio.data.readers import READERS, Record, count_rows, folder_files, iter_records, read_page, take
from studio.data.registry import FORMATTINGS, DatasetEntry, load_registry, register

REGISTRY = "dataset_info.json"
MAX_LISTED = 500


def registry_file(data_dir: Path) -> Path:
    return data_dir / REGISTRY


def confine(data_dir: Path, user_path: str) -> Path:
    """A path typed or sent by a browser, resolved inside the data folder or refused."""
    check_text(user_path, "file")
    root = data_dir.resolve()
    path = (root / Path(user_path.strip()).expanduser()).resolve()
    if root not in path.parents:
        raise StudioError("path.outside_data", path=user_path, root=str(root))
    if path.is_dir() and any(root not in p.resolve().parents for p in path.iterdir()):  # a symlink leading out
        raise StudioError("path.outside_data", path=user_path, root=str(root))
    return path


def relative(data_dir: Path, path: Path) -> str:
    return path.relative_to(data_dir.resolve()).as_posix()


def list_entries(data_dir: Path) -> list[dict[str, Any]]:
    """The registry as rows: name, formatting, file, state (ok / missing / remote) and ranking."""
    return [{"name": n, "formatting": e.formatting, "file": e.file_name, "state": e.state(data_dir),
             "ranking": e.ranking, "kto": bool(e.columns.get("kto_tag")), "num_samples": e.raw.get("num_samples")}
            for n, e in load_registry(registry_file(data_dir)).items()]


def dataset_choices(data_dir: Path) -> list[str]:
    """Registered names for a dropdown; an unreadable registry gives none (its sentence is shown elsewhere)."""
    try:
        return list(load_registry(registry_file(data_dir)))
    except StudioError:
        return []


def effective_mapping(data_dir: Path, name: str) -> dict[str, Any]:
    """What a registered entry really maps, defaults filled in (LLaMA-Factory would leave them None)."""
    from studio.data.load import resolve

    entry = resolve(entry_for(registry_file(data_dir), name), data_dir)
    out: dict[str, Any] = {"formatting": entry.formatting,  # a pair's answers are chosen / rejected, not response
                           "columns": {k: v for k, v in entry.columns.items() if v and not (entry.ranking and
                                                                                            k == "response")}}
    if entry.formatting in ("sharegpt", "openai"):
        out["tags"] = entry.tags
    if entry.fixes:
        out["fixes"] = list(entry.fixes)
    return out


def data_files(data_dir: Path) -> list[str]:
    """Files (and one-type folders) in the data folder that a dataset can be registered from."""
    root = data_dir.resolve()
    found: list[str] = []
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames[:] = sorted(d for d in dirnames if not d.startswith("."))
        here = Path(dirpath)
        if here != root:
            try:
                folder_files(here)
                found.append(relative(data_dir, here) + "/")
            except StudioError:
                pass
        for name in sorted(filenames):
            if Path(name).suffix.lower() in READERS and name != REGISTRY and not name.startswith("."):
                found.append(relative(data_dir, here / name))
        if len(found) >= MAX_LISTED:
            break
    return found[:MAX_LISTED]


def sample(path: Path, label: str, count: int = 200) -> list[Record]:
    return list(islice(iter_records(path, label), count))


def detect_file(data_dir: Path, file: str) -> Proposal:
    """The proposed mapping for a file in the data folder, from its first rows."""
    path = confine(data_dir, file)
    return detect(sample(path, relative(data_dir, path)))


def entry_from_form(data_dir: Path, name: str, file: str, formatting: str, columns: dict[str, str | None],
                    tags: dict[str, str], fixes: list[str]) -> DatasetEntry:
    if formatting not in FORMATTINGS:
        raise StudioError("registry.bad_formatting", name=name or "(new)", value=formatting,
                          expected=", ".join(FORMATTINGS))
    path = confine(data_dir, file)
    file_name = relative(data_dir, path)
    raw = build_raw(file_name, formatting, columns, tags, fixes)
    # "text" is said in memory so the choice holds even if rows also have an 'output' column; `save`
    # writes the entry the LLaMA-Factory way (only `prompt` mapped).
    return DatasetEntry.parse(name or "(new)", {**raw, "formatting": "text"} if formatting == "text" else raw)


def check_entry(data_dir: Path, entry: DatasetEntry) -> list[StudioError]:
    return check_mapping(entry, sample(entry.path(data_dir), entry.file_name))


def raw_row(data_dir: Path, file: str, start: int) -> dict[str, Any] | None:
    """One row as it is in the file (0-based), for showing beside a mapping that is not complete yet."""
    path = confine(data_dir, file)
    records, _ = read_page(path, start, 1, relative(data_dir, path))
    return records[0].row if records else None


def _page(entry: DatasetEntry, data_dir: Path, start: int, count: int) -> tuple[list[Any], bool]:
    """Rows start .. start+count-1 as conversations, or as preference rows for a pair / KTO entry."""
    from studio.data import preference

    if preference.kind(entry) == "sft":
        return page(entry, data_dir, start, count)
    return take(preference.converted(entry, data_dir), start, count)


def preview_entry(data_dir: Path, entry: DatasetEntry, start: int = 0, count: int = 1) -> tuple[list[Any], bool]:
    """Rows from `start` converted with `entry` (registered or not), reading only those rows."""
    problems = check_entry(data_dir, entry)
    if problems:
        raise problems[0]
    return _page(entry, data_dir, start, count)


def preview(data_dir: Path, name: str, start: int = 0, count: int = 1) -> tuple[list[Any], bool]:
    return _page(entry_for(registry_file(data_dir), name), data_dir, start, count)


def thumbnails(data_dir: Path, images: tuple[str, ...], size: int = 256) -> list[tuple[Any, str]]:
    """(small PIL image, (width, height) in the file) or (None, None) per image of a row (missing or unreadable)."""
    from PIL import Image

    out: list[tuple[Any, tuple[int, int] | None]] = []
    for name in images:
        try:
            with Image.open(confine(data_dir, name)) as img:
                full = img.size
                img.draft("RGB", (size, size))  # JPEG decodes at a fraction of its size: no full-size pixels
                img.thumbnail((size, size))
                out.append((img.convert("RGB"), full))
        except (StudioError, OSError, ValueError, Image.DecompressionBombError):  # said as not found / unreadable
            out.append((None, None))
    return out


def row_total(data_dir: Path, name: str | None = None, file: str | None = None) -> int:
    """Rows in a registered dataset's file (by name) or in a file of the data folder."""
    if name is not None:
        entry = entry_for(registry_file(data_dir), name)
        if not entry.path(data_dir).exists():
            raise StudioError("file.missing", file=entry.file_name or name)
        return count_rows(entry.path(data_dir), entry.file_name)
    path = confine(data_dir, file or "")
    if not path.exists():
        raise StudioError("file.missing", file=file)
    return count_rows(path, relative(data_dir, path))


def save(data_dir: Path, name: str, entry: DatasetEntry, *, overwrite: bool = False) -> None:
    """Register a checked mapping under `name` (asks before replacing: overwrite must be set)."""
    check_name(name, "dataset name")
    problems = check_entry(data_dir, entry)
    if problems:
        raise problems[0]
    raw = {k: v for k, v in entry.raw.items() if not (k == "formatting" and v == "text")}
    register(registry_file(data_dir), name, raw, overwrite=overwrite)


def upload(data_dir: Path, source: Path, name: str, move: bool = False) -> str:
    """Copy (or move: the server's temp copy is not kept twice) an uploaded file into the data folder under a
    name that is free (never replaces a file)."""
    check_text(name, "file name", limit=255)
    if Path(name).name != name or name.startswith(".") or not name:
        raise StudioError("data.upload_name", name=name)
    if not source.is_file():  # already moved in by an earlier call, or never there
        raise StudioError("file.missing", file=name)
    stem, suffix = Path(name).stem, Path(name).suffix
    target, n = data_dir / name, 1
    while target.exists():
        target, n = data_dir / f"{stem} ({n}){suffix}", n + 1
    if move:
        shutil.move(source, target)
    else:
        shutil.copyfile(source, target)
    return target.name


@dataclass(frozen=True)
class RowView:
    """One previewed row as plain data: what the CLI prints and the UI shows."""
    file: str
    row: int
    raw: dict[str, Any]
    messages: list[dict[str, str]] | None
    error: StudioError | None
    kind: str = "chat"  # chat | text | pair (chosen and rejected) | kto (one answer, good or bad)
    images: tuple[str, ...] = ()  # relative to the data folder, as the conversation names them
    chosen: str = ""  # pair / kto rows: the answers judged (a KTO row has one of them)
    rejected: str = ""

    def to_json(self, lang: str = "en") -> dict[str, Any]:
        out = {"file": self.file, "row": self.row, "raw": self.raw, "messages": self.messages,
               "error": self.error.text(lang) if self.error else None, "kind": self.kind}
        return out | ({"chosen": self.chosen, "rejected": self.rejected} if self.kind in ("pair", "kto") else {})


def row_views(items: list[Any]) -> list[RowView]:
    from studio.data.preference import Preference

    views = []
    for record, result in items:
        if isinstance(result, Preference):
            messages = ([{"role": "tools", "content": result.prompt.tools}] if result.prompt.tools else []) + \
                result.prompt.as_messages()
            views.append(RowView(record.file, record.number, record.row, messages, None,
                                 "kto" if result.kto else "pair", result.prompt.images, result.chosen,
                                 result.rejected))
            continue
        conv = result if isinstance(result, Conversation) else None
        messages = ([{"role": "tools", "content": conv.tools}] if conv.tools else []) + conv.as_messages() \
            if conv else None
        views.append(RowView(record.file, record.number, record.row, messages,
                             result if isinstance(result, StudioError) else None, conv.kind if conv else "chat",
                             conv.images if conv else ()))
    return views
