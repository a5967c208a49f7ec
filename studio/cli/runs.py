"""`python -m studio train | validate | runs ...`: the Train and Runs tabs' actions from a terminal."""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

from studio.core import config as cfgmod
from studio.core import presets
from studio.core.config import Issue, RunConfig
from studio.core.rundir import CONFIG_FILE, FINAL_STATES, LOG_FILE, log_tail, read_metrics
from studio.core.workspace import Workspace
from studio.runs import manage as runs
from studio.runs import plan
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


def merged(path: Path, preset: str) -> tuple[RunConfig, list[Issue]]:
    values = {**(presets.preset_values(preset) if preset else {}), **cfgmod.read_yaml(path)}
    return cfgmod.from_dict(values, path.name)


def print_issues(issues: list[Issue], lang: str) -> None:
    for issue in issues:
        print(f"{issue.level}: {issue.text(lang)}", file=sys.stderr)


def prepared(ws: Workspace, args: argparse.Namespace) -> tuple[RunConfig, list[Issue]]:
    """The config as the Start button would launch it: merged, checked, cutoff resolved."""
    from studio.train.checks import check_environment

    cfg, issues = merged(args.config, args.preset)
    if getattr(args, "run_dir", ""):
        cfg, extra = cfgmod.from_dict({**cfgmod.to_dict(cfg), "run_name": args.run_dir}, "--run-dir")
        issues += [i for i in extra if i.field == "run_name"]
    issues += check_environment(cfg, ws) + runs.check_launch(ws, cfg)
    if not cfgmod.has_errors(issues):
        cfg, chosen = plan.resolve(ws, cfg)
        if chosen:
            print(Issue("cutoff_len", "warning", "config.auto_cutoff", {"value": chosen}).text(args.lang))
    return cfg, issues


def memory_line(ws: Workspace, cfg: RunConfig) -> str:
    local = ws.root / cfg.model_name_or_path
    est = plan.estimate(local, cfg, cfgmod.gpu_visible()) if local.exists() else None
    if est is None:
        return "memory: unknown (no local safetensors)"
    verdict = {True: "fits", False: "does NOT fit", None: "device memory unknown"}[est.fits]
    return (f"memory: ~{est.total / plan.GIB:.2f} GiB per device (weights {est.weights / plan.GIB:.2f}, gradients "
            f"{est.gradients / plan.GIB:.2f}, optimizer {est.optimizer / plan.GIB:.2f}, activations "
            f"{est.activations / plan.GIB:.2f}); {est.trainable:,} of {est.parameters:,} parameters train; "
            f"{est.device} {0 if not est.device_bytes else est.device_bytes / plan.GIB:.1f} GiB: {verdict}")


def cmd_validate(ws: Workspace, args: argparse.Namespace) -> int:
    cfg, issues = prepared(ws, args)
    print_issues(issues, args.lang)
    if not cfgmod.has_errors(issues):
        print(memory_line(ws, cfg))
    print("errors" if cfgmod.has_errors(issues) else "ok")
    return 2 if cfgmod.has_errors(issues) else 0


def follow(ws: Workspace, run_dir: Path) -> str:
    """Print train.log as it grows until the run ends; Ctrl-C aborts the run (checkpoint, then stop)."""
    offset, announced = 0, False
    try:
        while True:
            state = runs.run_status(run_dir).get("state")
            if state == "queued" and not announced:
                print(f"run {run_dir.name}: queued behind the running run", flush=True)
                announced = True
            log = run_dir / LOG_FILE
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


def cmd_train(ws: Workspace, args: argparse.Namespace) -> int:
    cfg, issues = prepared(ws, args)
    print_issues(issues, args.lang)
    if cfgmod.has_errors(issues):
        return 2
    run_dir = runs.start(ws, cfg, args.preset)
    print(f"run {run_dir.name}: {(run_dir / 'command.txt').read_text(encoding='utf-8').strip()}", flush=True)
    if args.detach:
        return 0
    state = follow(ws, run_dir)
    print(f"run {run_dir.name}: {state}")
    return 0 if state == "finished" else 1


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
