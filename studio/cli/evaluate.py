"""`python -m studio eval ...`: the Evaluate tab's Start and its result tables, from a terminal."""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

from studio.core import config as cfgmod
from studio.core.errors import StudioError
from studio.core.workspace import Workspace
from studio.runs import manage as runs
from studio.runs.prepare import prepare
from studio.serve import eval_report

FLAGS = {  # flag -> config field: the fields the Evaluate tab shows
    "run": "eval_run", "weights": "eval_weights", "dataset": "eval_dataset", "model": "model_name_or_path",
    "adapter": "adapter_name_or_path", "template": "template", "max_samples": "max_samples",
    "max_new_tokens": "max_new_tokens", "temperature": "temperature", "top_p": "top_p",
    "batch_size": "per_device_eval_batch_size", "sql_db_dir": "sql_db_dir", "sql_timeout": "sql_timeout_s",
    "name": "run_name",
}


def add_parsers(sub: argparse._SubParsersAction) -> None:
    e = sub.add_parser("eval", help="evaluate a run's weights (and the base model) on its held-out rows or a dataset",
                       description="Starts an eval job (a folder under runs/, queued behind training) and prints "
                                   "its scores; --show prints a finished job's tables.")
    e.add_argument("config", nargs="?", type=Path, help="a (partial) config YAML; the flags below override it")
    e.add_argument("--run", help="the run evaluated (its held-out rows unless --dataset)")
    e.add_argument("--weights", help="final and/or checkpoint-N, comma-separated (default final)")
    e.add_argument("--no-base", action="store_true", help="skip the base model")
    e.add_argument("--dataset", help="a registered dataset instead of the run's held-out rows")
    e.add_argument("--model", help="a model folder (without --run)")
    e.add_argument("--adapter", help="an adapter folder on that model (without --run)")
    e.add_argument("--template", help="the chat template (without --run)")
    e.add_argument("--max-samples", type=int, help="at most this many rows; 0 = all (default 100)")
    e.add_argument("--max-new-tokens", type=int)
    e.add_argument("--temperature", type=float, help="0 = greedy (default)")
    e.add_argument("--top-p", type=float)
    e.add_argument("--batch-size", type=int, help="rows generated together (default 8)")
    e.add_argument("--sql-db-dir", help="folder of <db_id>/<db_id>.sqlite for execution match")
    e.add_argument("--sql-timeout", type=float, help="seconds a query may run (default 5)")
    e.add_argument("--name", help="the job folder's name under runs/")
    e.add_argument("--detach", action="store_true", help="start and return")
    e.add_argument("--show", metavar="JOB", help="print the scores and rows of an eval job")
    e.add_argument("--sort", choices=eval_report.SORTS, default="worse", help="row order for --show")
    e.add_argument("--rows", type=int, default=10, help="rows printed by --show")
    e.add_argument("--json", action="store_true", help="--show prints scores.json")


def values(ws: Workspace, args: argparse.Namespace) -> dict[str, Any]:
    data = cfgmod.read_yaml(ws.cli_path(args.config)) if args.config else {}
    data["stage"] = "eval"
    for flag, name in FLAGS.items():
        if getattr(args, flag) is not None:
            data[name] = getattr(args, flag)
    if args.no_base:
        data["eval_base"] = False
    return data


def cmd_eval(ws: Workspace, args: argparse.Namespace) -> int:
    from studio.cli.runs import start

    if args.show:
        return show(ws, args.show, args)
    p = prepare(ws, values(ws, args), source=args.config.name if args.config else "flags")
    code, run_dir = start(ws, p, args, "eval")
    if code == 0 and run_dir is not None and not args.detach:
        show(ws, run_dir.name, args)
    return code


def _fmt(value: Any, signed: bool = False) -> str:
    if value is None:
        return "-"
    return (f"{value:+.2f}" if signed else f"{value:.2f}") if isinstance(value, float) else str(value)


def show(ws: Workspace, job: str, args: argparse.Namespace) -> int:
    info = runs.get_run(ws, job)
    if not runs.is_eval(info):
        raise StudioError("eval.not_eval", run=job)
    res = eval_report.read(info.path)
    if not res.scores:
        raise StudioError("eval.no_scores", run=job, state=info.state)
    if args.json:
        print(json.dumps(res.scores, ensure_ascii=False, indent=1))
        return 0
    print(res.scores.get("about", ""))
    for key, offer in res.scores.get("offered", {}).items():
        print(f"  {key}: {'scored' if offer['on'] else 'not scored'} ({offer['why']})")
    head = ["score", *res.targets] + (["difference"] if res.has_base else [])
    width = len(res.targets)
    table = [head] + [[row[0], *(_fmt(v, i >= width) for i, v in enumerate(row[1:]))]
                      for row in eval_report.score_rows(res)]
    widths = [max(len(str(r[i])) for r in table) for i in range(len(head))]
    for row in table:
        print("  ".join(str(c).ljust(w) for c, w in zip(row, widths, strict=True)))
    curve = eval_report.checkpoint_curve(res)
    if len(curve) > 1:
        print(f"{eval_report.ROW_SCORE} per checkpoint: " + ", ".join(f"step {s} {v:.2f}" for s, v in curve))
    if args.rows <= 0:
        return 0
    shown, count, _ = eval_report.page_rows(eval_report.compared(res), args.sort, "", 1, args.rows)
    print(f"\n{count} rows, {args.sort} first:")
    for r in shown:
        print(f"#{r.index + 1} {r.source}  {eval_report.ROW_SCORE} base {_fmt(r.base_score)} tuned "
              f"{_fmt(r.tuned_score)}\n  prompt: {r.prompt[:100]!r}\n  reference: {(r.label or '')[:100]!r}\n"
              f"  base: {(r.base or '')[:100]!r}\n  tuned: {(r.tuned or '')[:100]!r}")
    return 0
