"""A registered dataset -> encoded rows, saved once with `datasets` under a key of everything that shapes them.

The key hashes the data files (path, size, mtime), the registry entry, the template's definition,
the tokenizer's files, and the encoding options; a second run with the same inputs loads the saved
rows instead of preprocessing. With several processes (one or many machines) the global main process
builds first, then each machine's local main (a no-op when the storage is shared, the build when it is
per-node), then everyone else loads: accelerate's main-process-first pattern, staged with barriers.
"""

from __future__ import annotations

import hashlib
import json
import re
import shutil
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Any

from studio.data.load import load_dataset
from studio.data.readers import folder_files
from studio.encode.encoder import Dropped, Encoded, Encoder, Media, Options
from studio.model.info import fingerprint
from studio.templates.named import AUTO, get_template
from studio.templates.registry import make_template

CACHE_VERSION = 4  # bump when encoding changes in a way the key cannot see


@dataclass
class Summary:
    rows: int = 0  # read from the file(s)
    unusable: int = 0  # could not become a conversation (reasons in the data report)
    kept: int = 0
    dropped: Counter[str] = field(default_factory=Counter)  # reason key -> rows
    truncated: Counter[str] = field(default_factory=Counter)  # "turns" / "prompt" / "answer" -> rows
    tokens: int = 0
    trained_tokens: int = 0
    seconds: float = 0.0
    cached: bool = False

    def as_dict(self) -> dict[str, Any]:
        return {**asdict(self), "dropped": dict(self.dropped), "truncated": dict(self.truncated)}


def tally(results: list[Any], summary: Summary, sources: list[str] | None = None) -> list[Any]:
    """The encoded rows kept; with `sources`, the list is narrowed in place to the kept rows' sources."""
    kept, kept_sources = [], []
    for i, result in enumerate(results):
        if isinstance(result, Dropped):
            summary.dropped[result.reason] += 1
            continue
        kept.append(result)
        kept_sources.append(sources[i] if sources else "")
        summary.tokens += result.tokens
        summary.trained_tokens += result.trained_tokens
        if result.truncated:
            summary.truncated[result.truncated] += 1
    summary.kept = len(kept)
    if sources is not None:
        sources[:] = kept_sources
    return kept


def media_for(registry_file: Path, model_dir: Path | None, options: Options) -> Media | None:
    """Image sizing for a model that sees images (paths relative to the data folder), else None."""
    from studio.model.vision import sees_images

    if model_dir is None or options.text_only or not sees_images(model_dir):
        return None
    return Media.of(registry_file.parent, model_dir, options)


def encode_dataset(registry_file: Path, dataset: str, tokenizer: Any, template: str,
                   options: Options, model_dir: Path | None = None) -> tuple[list[Encoded], list[str], Summary]:
    """Every kept row in dataset order with its source ("file row N"), and what happened to the others."""
    start = time.perf_counter()
    loaded = load_dataset(registry_file, dataset)
    summary = Summary(rows=len(loaded.rows), unusable=len(loaded.problems))
    media = media_for(registry_file, model_dir, options)
    encoder = Encoder(make_template(template, tokenizer), tokenizer, options, media)
    sources = list(loaded.sources)
    kept = tally(encoder.encode_many(loaded.conversations), summary, sources)
    summary.seconds = round(time.perf_counter() - start, 3)
    return kept, sources, summary


def encode_preferences(registry_file: Path, dataset: str, tokenizer: Any, template: str, options: Options,
                       stage: str) -> tuple[dict[str, list], Summary]:
    """A preference dataset's columns (pairs for dpo, answers with their KL rows for kto), and what was dropped."""
    from studio.data.preference import load_preferences
    from studio.encode.pairs import encode_rows

    start = time.perf_counter()
    loaded = load_preferences(registry_file, dataset)
    summary = Summary(rows=loaded.total, unusable=len(loaded.problems))
    encoder = Encoder(make_template(template, tokenizer), tokenizer, options)
    sources = list(loaded.sources)
    kept = tally(encode_rows(encoder, loaded.items, stage == "kto"), summary, sources)
    names = [f.name for f in fields(kept[0])] if kept else []
    columns: dict[str, list] = {n: [getattr(e, n) for e in kept] for n in names if n != "truncated"}
    summary.seconds = round(time.perf_counter() - start, 3)
    return columns | {"source": sources}, summary


def sft_columns(kept: list[Encoded], sources: list[str], summary: Summary) -> tuple[dict[str, list], Summary]:
    columns: dict[str, list] = {"input_ids": [e.input_ids for e in kept], "labels": [e.labels for e in kept],
                                "source": sources}
    if any(e.images for e in kept):  # decoded in the collator, batch by batch: only paths and grids are kept
        columns["images"] = [list(e.images) for e in kept]
        columns["image_grid_thw"] = [[list(g) for g in e.grids] for e in kept]
    return columns, summary


def cache_key(registry_file: Path, dataset: str, tokenizer_dir: Path, template: str, options: Options,
              stage: str = "sft") -> str:
    from studio.data.registry import get_entry

    entry = get_entry(registry_file, dataset)
    path = entry.path(registry_file.parent)
    files = folder_files(path) if path.is_dir() else [path]
    parts = {
        "version": CACHE_VERSION,
        "entry": entry.raw,
        "files": [(str(f), f.stat().st_size, f.stat().st_mtime_ns) for f in files],
        "template": template if template == AUTO else repr(get_template(template)),
        "tokenizer": [str(tokenizer_dir), *fingerprint(tokenizer_dir)],
        "options": asdict(options),
        "stage": "sft" if stage == "eval" else stage,
    }
    if (media := media_for(registry_file, tokenizer_dir, options)) is not None:
        parts["media"] = [asdict(media.spec), *_image_stamps(registry_file, dataset, media.root)]
    return hashlib.sha256(json.dumps(parts, sort_keys=True, default=str).encode()).hexdigest()[:24]


def _image_stamps(registry_file: Path, dataset: str, root: Path) -> list[tuple[str, int, int]]:
    """(path, size, mtime) of every image the dataset's rows name: a changed image is a new key."""
    stamps = []
    for name in sorted({n for conv in load_dataset(registry_file, dataset).conversations for n in conv.images}):
        try:
            st = (root / name).stat()
            stamps.append((name, st.st_size, st.st_mtime_ns))
        except OSError:
            stamps.append((name, -1, -1))
    return stamps


def load_or_build(folder: Path, build: Callable[[], tuple[dict[str, list], Summary]]) -> tuple[Any, Summary]:
    """The saved rows in `folder` (a datasets.Dataset), building and saving them first when absent."""
    import datasets
    from datasets import Dataset, load_from_disk

    datasets.disable_progress_bars()  # the run's log is read by people: no carriage-return bars
    summary_file = folder / "summary.json"
    if summary_file.exists():
        data = json.loads(summary_file.read_text(encoding="utf-8"))
        summary = Summary(**{**data, "dropped": Counter(data["dropped"]), "truncated": Counter(data["truncated"]),
                             "cached": True})
        return load_from_disk(str(folder / "rows")), summary
    columns, summary = build()
    rows = Dataset.from_dict(columns)
    tmp = folder.with_name(f"{folder.name}.tmp-{time.time_ns()}")
    rows.save_to_disk(str(tmp / "rows"))
    (tmp / "summary.json").write_text(json.dumps(summary.as_dict()), encoding="utf-8")
    try:
        tmp.rename(folder)  # atomic: a reader sees all of it or nothing; a racing builder's copy loses
    except OSError:
        shutil.rmtree(tmp, ignore_errors=True)
    return load_from_disk(str(folder / "rows")), summary


def staged(work: Callable[[], Any]) -> Any:
    """Run `work` in every process: global main first, then local mains, then the rest (barriers between)."""
    import os

    if int(os.environ.get("WORLD_SIZE", "1")) <= 1:
        return work()
    import torch
    from accelerate import PartialState

    # without cpu=True, accelerate sees no GPU and reports a single process: the barriers would be no-ops
    state = PartialState(cpu=not torch.cuda.is_available())
    stage = 0 if state.is_main_process else 1 if state.is_local_main_process else 2
    result = None
    for turn in range(3):
        if turn == stage:
            result = work()
        state.wait_for_everyone()
    return result


def cached_dataset(cache_root: Path, registry_file: Path, dataset: str, tokenizer: Any, tokenizer_dir: Path,
                   template: str, options: Options, stage: str = "sft") -> tuple[Any, Summary]:
    """The encoded rows of a run's dataset: SFT rows, or preference columns for dpo / kto."""
    key = cache_key(registry_file, dataset, tokenizer_dir, template, options, stage)
    folder = cache_root / "tokenized" / f"{re.sub(r'[^A-Za-z0-9_.-]', '_', dataset)[:40]}-{key}"
    folder.parent.mkdir(parents=True, exist_ok=True)
    if stage in ("dpo", "kto"):
        return staged(lambda: load_or_build(
            folder, lambda: encode_preferences(registry_file, dataset, tokenizer, template, options, stage)))
    return staged(lambda: load_or_build(
        folder, lambda: sft_columns(*encode_dataset(registry_file, dataset, tokenizer, template, options,
                                                    tokenizer_dir))))
