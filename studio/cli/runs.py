"""`python -m studio train | validate | runs ...`: the Train and Runs tabs' actions from a terminal."""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

from studio.core import config as cfgmod
from studio.core.config import Issue
from studio.core.rundir import CONFIG_FILE, FINAL_STATES, log_path, log_tail, read_metrics
from studio.core.workspace import Workspace
from studio.model.memory import GIB, Estimate
from studio.runs import manage as runs
from studio.runs.prepare import Prepared, launch, prepare
from studio.train.worst_rows import read as read_worst


def add_parsers(sub: argparse._SubParsersAction) -> None:
    t = sub.add_parser("train", help="start a run on a config file and follow it (queued if another run is busy)")
    t.add_argument("config", type=Path, help="a (partial) run config YAML")
    t.add_argument("--preset", default="", help="a preset merged under the file's values")
    t.add_argument("--run-dir", default="", help="the run folder's name under runs/ (same as run_name)")
    t.add_argument("--detach", action="store_true", help="start and return; follow it in the studio or `runs show`")
    v = sub.add_parser("validate", help="check a config file, print every issue and the memory estimate")
    v.add_argument("config", type=Path)
    v.add_argument("--preset", default="")
    r = sub.add_parser("runs", help="list, show, abort, resume, delete or compare runs")
    r_sub = r.add_subparsers(dest="action", required=True)
    r_sub.add_parser("list")
    show = r_sub.add_parser("show", help="status, last metrics, log tail, worst rows")
    show.add_argument("run")
    show.add_argument("--config", action="store_true", help="print only the run's config.yaml (to edit and train)")
    abort = r_sub.add_parser("abort", help="SIGTERM: the run saves a checkpoint and stops (killed after --grace)")
    abort.add_argument("run")
    abort.add_argument("--grace", type=float, default=60.0, help="seconds before the worker is killed")
    for name, text in (("resume", "continue an aborted or failed run from its latest checkpoint"),
                       ("delete", "remove a run folder (not while it runs)")):
        r_sub.add_parser(name, help=text).add_argument("run")
    cmp = r_sub.add_parser("compare", help="config fields that differ and the last / best losses (JSON)")
    cmp.add_argument("run", nargs="+")


def print_issues(issues: list[Issue], lang: str) -> None:
    for issue in issues:
        print(f"{issue.level}: {issue.text(lang)}", file=sys.stderr)


def prepared(ws: Workspace, args: argparse.Namespace) -> Prepared:
    """The config as the Start button would launch it: merged over the preset, checked, cutoff resolved."""
    values = cfgmod.read_yaml(ws.cli_path(args.config))
    if getattr(args, "run_dir", ""):
        values["run_name"] = args.run_dir
    p = prepare(ws, values, args.preset, Path(args.config).name)
    if p.cutoff:
        print(Issue("cutoff_len", "warning", "config.auto_cutoff", {"value": p.cutoff}).text(args.lang))
    return p


def memory_line(est: Estimate | None) -> str:
    if est is None:
        return "memory: unknown (no local safetensors)"
    verdict = {True: "fits", False: "does NOT fit", None: "device memory unknown"}[est.fits]
    return (f"memory: ~{est.total / GIB:.2f} GiB per device (weights {est.weights / GIB:.2f}, gradients "
            f"{est.gradients / GIB:.2f}, optimizer {est.optimizer / GIB:.2f}, activations "
            f"{est.activations / GIB:.2f}); {est.trainable:,} of {est.parameters:,} parameters train; "
            f"{est.device} {0 if not est.device_bytes else est.device_bytes / GIB:.1f} GiB: {verdict}")


def cmd_validate(ws: Workspace, args: argparse.Namespace) -> int:
    p = prepared(ws, args)
    print_issues(p.issues, args.lang)
    if p.ok:
        print(memory_line(p.estimate))
    print("ok" if p.ok else "errors")
    return 0 if p.ok else 2


def follow(ws: Workspace, run_dir: Path) -> str:
    """Print the worker's log (train.log, eval.log) as it grows until the run ends; Ctrl-C aborts the run (checkpoint, then stop)."""
    offset, announced = 0, False
    try:
        while True:
            state = runs.run_status(run_dir).get("state")
            if state == "queued" and not announced:
                print(f"run {run_dir.name}: queued behind the running run", flush=True)
                announced = True
            log = log_path(run_dir)
            if log.exists():
                with open(log, "rb") as fh:
                    fh.seek(offset)
                    chunk = fh.read()
                offset += len(chunk)
                sys.stdout.buffer.write(chunk)
                sys.stdout.flush()
            if state in FINAL_STATES:
                return str(state)
            time.sleep(0.3)
    except KeyboardInterrupt:
        runs.abort(ws, run_dir.name, wait=True)
        return str(runs.run_status(run_dir).get("state"))


def start(ws: Workspace, p: Prepared, args: argparse.Namespace, kind: str = "run") -> tuple[int, Path | None]:
    """Print the issues; launch (or queue) a config without errors and follow it unless --detach.
    Returns the exit code and the run folder (None when refused)."""
    print_issues(p.issues, args.lang)
    if not p.ok:
        return 2, None
    run_dir = launch(ws, p)
    print(f"{kind} {run_dir.name}: {(run_dir / 'command.txt').read_text(encoding='utf-8').strip()}", flush=True)
    if args.detach:
        return 0, run_dir
    state = follow(ws, run_dir)
    print(f"{kind} {run_dir.name}: {state}")
    return (0 if state == "finished" else 1), run_dir


def cmd_train(ws: Workspace, args: argparse.Namespace) -> int:
    return start(ws, prepared(ws, args), args)[0]


def cmd_runs(ws: Workspace, args: argparse.Namespace) -> int:
    if args.action == "list":
        for info in runs.list_runs(ws):
            loss, _ = runs.losses(info.path)
            print(f"{info.run_id}\t{info.state}\t{info.status.get('step', 0)}/{info.status.get('max_steps', '?')}"
                  f"\tloss={'-' if loss is None else f'{loss:.4f}'}")
        return 0
    if args.action == "abort":
        info = runs.abort(ws, args.run, grace_s=args.grace, wait=True)
        print(f"{args.run}: {runs.run_status(info.path).get('state')}")
        return 0
    if args.action == "resume":
        info = runs.resume(ws, args.run)
        print(f"{args.run}: {info.state} (from {info.status.get('resume_from')})")
        return 0
    if args.action == "delete":
        runs.delete(ws, args.run)
        print(f"{args.run}: deleted")
        return 0
    if args.action == "compare":
        infos = [runs.get_run(ws, r) for r in args.run]
        diff = runs.config_differences({i.run_id: runs.load_config(i) for i in infos})
        out = {"differences": diff, "runs": [{"run": i.run_id, "state": i.state,
                                              **dict(zip(("last_loss", "best_eval_loss"), runs.losses(i.path),
                                                         strict=True))} for i in infos]}
        print(json.dumps(out, ensure_ascii=False, indent=1))
        return 0
    info = runs.get_run(ws, args.run)
    if args.config:
        print((info.path / CONFIG_FILE).read_text(encoding="utf-8"), end="")
        return 0
    print(json.dumps(info.status, ensure_ascii=False, indent=1))
    metrics, _ = read_metrics(info.path)
    for row in metrics[-5:]:
        print(json.dumps(row))
    for row in read_worst(info.path)[:5]:
        print(f"worst #{row['rank']}: loss {row['loss']:.3f} {row['source']}: {row['text'][:120]!r}")
    print(log_tail(info.path, 10))
    return 0
