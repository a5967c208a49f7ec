"""`python -m studio ...`: each sub-command calls the same function as its button in the UI."""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from pathlib import Path

from studio import config as cfgmod
from studio import runs
from studio.errors import StudioError
from studio.rundir import LOG_FILE, log_tail, read_metrics
from studio.workspace import REPO_ROOT, Workspace


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m studio", description="Fine-tuning studio, command line.")
    p.add_argument("--workspace", default="workspace", help="workspace folder (default ./workspace)")
    p.add_argument("--lang", choices=("en", "zh"), default="en", help="language of error messages")
    sub = p.add_subparsers(dest="command", required=True)
    sub.add_parser("demo", help="create the demo model and dataset in the workspace")
    t = sub.add_parser("train", help="run the training worker in the foreground on a config file")
    t.add_argument("config", type=Path, help="a (partial) run config YAML")
    t.add_argument("--preset", default="", help="a preset merged under the file's values")
    v = sub.add_parser("validate", help="check a config file and print every issue")
    v.add_argument("config", type=Path)
    v.add_argument("--preset", default="")
    c = sub.add_parser("config", help="config helpers")
    c_sub = c.add_subparsers(dest="action", required=True)
    show = c_sub.add_parser("show", help="print the full config (defaults, or a preset merged over them)")
    show.add_argument("--preset", default="")
    c_sub.add_parser("presets", help="list the presets")
    r = sub.add_parser("runs", help="list, show or abort runs")
    r_sub = r.add_subparsers(dest="action", required=True)
    r_sub.add_parser("list")
    for name in ("show", "abort"):
        r_sub.add_parser(name).add_argument("run")
    d = sub.add_parser("data", help="registered datasets")
    d_sub = d.add_subparsers(dest="action", required=True)
    d_sub.add_parser("list")
    prev = d_sub.add_parser("preview")
    prev.add_argument("name")
    prev.add_argument("--rows", type=int, default=3)
    ch = sub.add_parser("chat", help="chat with a run's adapter or a model")
    ch.add_argument("--run", default="", help="a run id (uses its model, adapter and template)")
    ch.add_argument("--model", default="", help="a model folder or hub id (without --run)")
    ch.add_argument("--adapter", type=Path, default=None)
    ch.add_argument("--template", default="chatml")
    ch.add_argument("--prompt", default="", help="one message; without it, an interactive loop")
    ch.add_argument("--max-new-tokens", type=int, default=128)
    return p


def _merged(path: Path, preset: str) -> tuple[cfgmod.RunConfig, list[cfgmod.Issue]]:
    values = {**(cfgmod.preset_values(preset) if preset else {}), **cfgmod.read_yaml(path)}
    return cfgmod.from_dict(values, path.name)


def _print_issues(issues: list[cfgmod.Issue], lang: str) -> None:
    for issue in issues:
        print(f"{issue.level}: {issue.text(lang)}", file=sys.stderr)


def cmd_train(ws: Workspace, args: argparse.Namespace) -> int:
    from studio.checks import check_environment

    cfg, issues = _merged(args.config, args.preset)
    issues += check_environment(cfg, ws)
    _print_issues(issues, args.lang)
    if cfgmod.has_errors(issues):
        return 2
    run_dir = runs.create_run(ws, cfg, args.preset)
    print(f"run {run_dir.name}: {runs.command_preview(run_dir)}", flush=True)
    with open(run_dir / LOG_FILE, "ab") as log:
        proc = subprocess.Popen(runs.worker_argv(run_dir), cwd=REPO_ROOT, stdout=subprocess.PIPE,
                                stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
        for line in proc.stdout or []:  # show the worker's output and keep it in train.log
            sys.stdout.buffer.write(line)
            sys.stdout.flush()
            log.write(line)
            log.flush()
    code = proc.wait()
    print(f"run {run_dir.name}: {runs.run_status(run_dir).get('state')}")
    return 0 if code == 0 else 1


def cmd_runs(ws: Workspace, args: argparse.Namespace) -> int:
    if args.action == "list":
        for info in runs.list_runs(ws):
            loss = runs.last_loss(info.path)
            print(f"{info.run_id}\t{info.state}\t{info.status.get('step', 0)}/{info.status.get('max_steps', '?')}"
                  f"\tloss={'-' if loss is None else f'{loss:.4f}'}")
        return 0
    if args.action == "abort":
        print(f"{args.run}: {runs.abort(ws, args.run).state}")
        return 0
    info = runs.get_run(ws, args.run)
    print(json.dumps(info.status, ensure_ascii=False, indent=1))
    metrics, _ = read_metrics(info.path)
    for row in metrics[-5:]:
        print(json.dumps(row))
    print(log_tail(info.path, 10))
    return 0


def cmd_data(ws: Workspace, args: argparse.Namespace) -> int:
    from studio.data.load import load_dataset
    from studio.data.registry import load_registry

    if args.action == "list":
        for name, entry in load_registry(ws.registry_file).items():
            print(f"{name}\t{entry.formatting}\t{entry.file_name}\t{entry.state(ws.data_dir)}")
        return 0
    loaded = load_dataset(ws.registry_file, args.name, limit=args.rows)
    for conv in loaded.conversations:
        print(json.dumps(conv.as_messages(), ensure_ascii=False))
    for problem in loaded.problems:
        print(f"skipped: {problem.text(args.lang)}", file=sys.stderr)
    return 0


def cmd_chat(ws: Workspace, args: argparse.Namespace) -> int:
    from studio import chat

    if args.run:
        target = chat.run_target(ws, args.run)
    else:
        target = chat.ChatTarget(args.model, args.adapter, args.template)
    cm = chat.load(target.base, target.adapter, target.template)
    settings = chat.GenSettings(max_new_tokens=args.max_new_tokens)
    history: list[dict[str, str]] = []
    prompts = [args.prompt] if args.prompt else None
    while True:
        prompt = prompts.pop(0) if prompts else (None if prompts is not None else input("> "))
        if not prompt:
            return 0
        history.append({"role": "user", "content": prompt})
        reply = list(chat.stream_reply(cm, history, settings))[-1:] or [""]
        print(reply[0], flush=True)
        history.append({"role": "assistant", "content": reply[0]})


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    try:
        ws = Workspace.at(args.workspace)
        if args.command == "demo":
            from studio.demo import ensure_demo

            print("created" if ensure_demo(ws) else "already present", ws.root)
            return 0
        if args.command == "train":
            return cmd_train(ws, args)
        if args.command == "validate":
            from studio.checks import check_environment

            cfg, issues = _merged(args.config, args.preset)
            issues += check_environment(cfg, ws)
            _print_issues(issues, args.lang)
            print("errors" if cfgmod.has_errors(issues) else "ok")
            return 2 if cfgmod.has_errors(issues) else 0
        if args.command == "config":
            if args.action == "presets":
                print("\n".join(cfgmod.list_presets()))
                return 0
            cfg, issues = cfgmod.from_preset(args.preset) if args.preset else cfgmod.from_dict({}, "defaults")
            _print_issues(issues, args.lang)
            print(cfgmod.to_yaml(cfg), end="")
            return 2 if cfgmod.has_errors(issues) else 0
        return {"runs": cmd_runs, "data": cmd_data, "chat": cmd_chat}[args.command](ws, args)
    except StudioError as err:
        print(f"error: {err.text(args.lang)}", file=sys.stderr)
        return 2
