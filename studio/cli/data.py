"""`python -m studio data list|files|detect|preview|inspect|register|encode`: the Data tab's buttons, JSON out."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from studio.cli import runs as cli_runs
from studio.core import config as cfgmod
from studio.core.errors import StudioError
from studio.core.workspace import DEMO_MODEL, Workspace


def add_parsers(sub: argparse._SubParsersAction) -> None:
    d = sub.add_parser("data", help="datasets: list, files, detect, preview, inspect, register (JSON on stdout)")
    d_sub = d.add_subparsers(dest="action", required=True)
    parsers = {name: d_sub.add_parser(name, help=text) for name, text in (
        ("list", "the registry: name, format, file, state"),
        ("files", "files in the data folder that can be registered"),
        ("detect", "the proposed mapping for a file"),
        ("preview", "rows converted, with per-row errors"),
        ("inspect", "kept / dropped by reason, quality, token lengths, suggested cutoff"),
        ("register", "register a file under a name (dataset_info.json, atomic, one backup)"),
        ("encode", "every kept row as training encodes it: JSONL of input_ids / labels, summary on stderr"))}
    for p in parsers.values():
        p.add_argument("--dir", type=Path, default=None, help="data folder with dataset_info.json "
                       "(default: the workspace's data folder)")
    parsers["detect"].add_argument("--file", required=True, help="a file or folder inside the data folder")
    parsers["preview"].add_argument("--dataset", required=True)
    parsers["preview"].add_argument("--rows", type=int, default=5)
    parsers["preview"].add_argument("--start", type=int, default=1, help="first row (1-based)")
    parsers["inspect"].add_argument("--dataset", required=True)
    parsers["inspect"].add_argument("--model", type=Path, default=None, help="model folder whose tokenizer "
                                    "counts tokens (default: the demo model when present)")
    parsers["inspect"].add_argument("--cutoff", type=int, default=None, help="report what this cutoff truncates")
    for name in ("inspect", "encode"):
        parsers[name].add_argument("--template", default="", help="chat template (default: proposed from the model)")
    enc = parsers["encode"]
    enc.add_argument("--dataset", required=True)
    enc.add_argument("--model", type=Path, default=None, help="model folder (default: the workspace's demo model)")
    enc.add_argument("--cutoff-len", type=int, default=cfgmod.FIELDS["cutoff_len"].default)
    enc.add_argument("--train-on-prompt", action="store_true")
    enc.add_argument("--mask-history", action="store_true")
    enc.add_argument("--image-max-pixels", type=int, default=cfgmod.FIELDS["image_max_pixels"].default)
    enc.add_argument("--image-min-pixels", type=int, default=cfgmod.FIELDS["image_min_pixels"].default)
    enc.add_argument("--out", type=Path, required=True, help="JSONL file to write")
    reg = parsers["register"]
    reg.add_argument("--name", required=True)
    reg.add_argument("--file", required=True)
    reg.add_argument("--formatting", choices=("alpaca", "sharegpt", "openai", "text"), default=None,
                     help="default: detected from the file")
    reg.add_argument("--column", action="append", default=[], metavar="KEY=COL", help="e.g. prompt=question")
    reg.add_argument("--tag", action="append", default=[], metavar="KEY=VALUE", help="e.g. user_tag=human")
    reg.add_argument("--fix", action="append", default=None, choices=("media_as_list", "image_placeholder"),
                     help="conversion-time repairs (default: the detected ones)")
    reg.add_argument("--overwrite", action="store_true", help="replace an entry of the same name")


def _pairs(values: list[str], flag: str) -> dict[str, str | None]:
    out: dict[str, str | None] = {}
    for value in values:
        key, sep, col = value.partition("=")
        if not sep or not key:
            raise StudioError("cli.bad_pair", flag=flag, value=value)
        out[key.strip()] = col.strip() or None
    return out


def cmd_data(ws: Workspace, args: argparse.Namespace) -> int:
    from studio.data import actions
    from studio.encode import lengths

    data_dir = ws.cli_path(args.dir) if args.dir else ws.data_dir.resolve()
    out: object
    if args.action == "encode":
        return _encode(ws, data_dir, args)
    if args.action == "list":
        out = actions.list_entries(data_dir)
    elif args.action == "files":
        out = actions.data_files(data_dir)
    elif args.action == "detect":
        p = actions.detect_file(data_dir, args.file)
        out = {"formatting": p.formatting, "columns": p.columns, "tags": p.tags, "fixes": p.fixes,
               "notes": [n.text(args.lang) for n in p.notes], "file_columns": p.file_columns}
    elif args.action == "preview":
        items, more = actions.preview(data_dir, args.dataset, max(args.start, 1) - 1, args.rows)
        out = {"rows": [v.to_json(args.lang) for v in actions.row_views(items)], "more": more}
    elif args.action == "inspect":
        model = ws.cli_path(args.model) if args.model else ws.root / DEMO_MODEL
        if args.model and not (model / "config.json").exists():
            raise StudioError("config.model_missing", path=str(args.model))
        report = lengths.inspect_dataset(data_dir, args.dataset, model if model.exists() else None, args.template)
        out = report.to_json() | {"advice": report.advice(args.lang)}
        if args.cutoff:
            out["cutoff_effect"] = report.cutoff_effect(args.cutoff)
    else:
        p = actions.detect_file(data_dir, args.file)
        formatting = args.formatting or p.formatting
        columns = {**(p.columns if formatting == p.formatting else {}), **_pairs(args.column, "--column")}
        tags = {**p.tags, **{k: v or "" for k, v in _pairs(args.tag, "--tag").items()}}
        fixes = p.fixes if args.fix is None else args.fix
        entry = actions.entry_from_form(data_dir, args.name, args.file, formatting, columns, tags, fixes)
        actions.save(data_dir, args.name, entry, overwrite=args.overwrite)
        from studio.data.registry import get_entry

        written = get_entry(actions.registry_file(data_dir), args.name).raw
        out = {"registered": args.name, "entry": written, "notes": [n.text(args.lang) for n in p.notes]}
    print(json.dumps(out, ensure_ascii=False, indent=1))
    return 0


def _encode(ws: Workspace, data_dir: Path, args: argparse.Namespace) -> int:
    """The CLI twin of the learn view and of the worker's preprocessing: same checks, same encoder."""
    from studio.encode.cache import encode_dataset
    from studio.encode.encoder import IGNORE, Options
    from studio.encode.learn import proposed_template
    from studio.train.checks import check_template

    model = ws.cli_path(args.model) if args.model else ws.root / DEMO_MODEL
    if not (model / "config.json").exists():
        raise StudioError("config.model_missing", path=str(model))
    template = args.template or proposed_template(model)
    cfg, issues = cfgmod.from_dict({"model_name_or_path": str(model), "template": template,
                                    "cutoff_len": args.cutoff_len, "train_on_prompt": args.train_on_prompt,
                                    "mask_history": args.mask_history, "image_max_pixels": args.image_max_pixels,
                                    "image_min_pixels": args.image_min_pixels}, "command line")
    if args.cutoff_len == 0:  # "from the data" is for runs; here the cutoff is the thing being tried
        issues.append(cfgmod.Issue("cutoff_len", "error", "config.out_of_range",
                                   {"field": "cutoff_len", "value": 0, "low": 16, "high": 131072}))
    if not cfgmod.has_errors(issues):
        issues += check_template(cfg, model)
    cli_runs.print_issues(issues, args.lang)
    if cfgmod.has_errors(issues):
        return 2
    from studio.model.info import load_tokenizer

    options = Options.of(cfg)
    from studio.data.preference import kind
    from studio.data.registry import get_entry

    shape = kind(get_entry(data_dir / "dataset_info.json", args.dataset))
    if shape != "sft":  # preference rows: their columns as stage dpo / kto trains them
        from studio.encode.cache import encode_preferences

        columns, summary = encode_preferences(data_dir / "dataset_info.json", args.dataset, load_tokenizer(model),
                                              template, options, "dpo" if shape == "pairs" else "kto")
        return _write_rows(ws, args, template, summary, columns, IGNORE)
    kept, _, summary = encode_dataset(data_dir / "dataset_info.json", args.dataset, load_tokenizer(model), template,
                                      options, model)
    out_file = ws.cli_path(args.out)
    out_file.parent.mkdir(parents=True, exist_ok=True)
    with open(out_file, "w", encoding="utf-8") as out:
        for enc in kept:
            row = {"input_ids": enc.input_ids, "labels": enc.labels}
            if enc.images:
                row |= {"images": list(enc.images), "image_grid_thw": [list(g) for g in enc.grids]}
            out.write(json.dumps(row, ensure_ascii=False) + "\n")
    trained = sum(1 for e in kept for label in e.labels if label != IGNORE)
    print(json.dumps({"template": template, **summary.as_dict(), "trained_tokens": trained, "out": str(out_file)},
                     ensure_ascii=False), file=sys.stderr)
    return 0


def _write_rows(ws: Workspace, args: argparse.Namespace, template: str, summary: Any, columns: dict[str, list],
                ignore: int) -> int:
    """Preference rows, one JSON object per line with every encoded column (chosen_* / rejected_*, or the answer,
    its KL row and kto_tag), and the summary on stderr."""
    out_file = ws.cli_path(args.out)
    out_file.parent.mkdir(parents=True, exist_ok=True)
    names = [n for n in columns if n != "source"]
    with open(out_file, "w", encoding="utf-8") as out:
        for values in zip(*(columns[n] for n in names), strict=True):
            out.write(json.dumps(dict(zip(names, values, strict=True)), ensure_ascii=False) + "\n")
    trained = sum(1 for n in names if n.endswith("labels") and not n.startswith("kl_") for row in columns[n]
                  for label in row if label != ignore)
    print(json.dumps({"template": template, **summary.as_dict(), "trained_tokens": trained, "out": str(out_file)},
                     ensure_ascii=False), file=sys.stderr)
    return 0
