"""`python -m studio ...`: each sub-command calls the same function as its button in the UI."""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from studio.cli import chat as cli_chat
from studio.cli import data as cli_data
from studio.cli import evaluate as cli_eval
from studio.cli import export as cli_export
from studio.cli import models as cli_models
from studio.cli import runs as cli_runs
from studio.core import config as cfgmod
from studio.core import presets
from studio.core.errors import StudioError
from studio.core.workspace import DATA_DIRS_ENV, Workspace


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m studio", description="Fine-tuning studio, command line.",
                                epilog="Every path (model, adapter, data folder, config file, output) is taken as given "
                                       "when it exists, else relative to the workspace.")
    p.add_argument("--workspace", default="workspace", help="workspace folder (default ./workspace)")
    p.add_argument("--lang", choices=("en", "zh"), default="en", help="language of error messages")
    p.add_argument("--data-dir", action="append", default=[], metavar="DIR",
                   help="a folder registered datasets may point into besides the data folder (repeatable; "
                        "the same as the server's --data-dir and STUDIO_DATA_DIRS)")
    sub = p.add_subparsers(dest="command", required=True)
    demo = sub.add_parser("demo", help="create the demo models and datasets in the workspace (text, then vision)")
    demo.add_argument("--text-only", action="store_true", help="only the text demo")
    c = sub.add_parser("config", help="config helpers")
    c_sub = c.add_subparsers(dest="action", required=True)
    show = c_sub.add_parser("show", help="print the full config (defaults, or a preset merged over them)")
    show.add_argument("--preset", default="")
    c_sub.add_parser("presets", help="list the presets")
    cli_runs.add_parsers(sub)
    cli_data.add_parsers(sub)
    cli_chat.add_parsers(sub)
    cli_export.add_parsers(sub)
    cli_models.add_parsers(sub)
    cli_eval.add_parsers(sub)
    return p


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    if args.data_dir:  # read by the registry here and by any worker started from here
        os.environ[DATA_DIRS_ENV] = os.pathsep.join(str(Path(d).expanduser().resolve()) for d in args.data_dir)
    try:
        ws = Workspace.at(args.workspace)
        if args.command == "demo":
            from studio.train.demo import ensure_demo

            print("created" if ensure_demo(ws) else "already present", ws.root, flush=True)
            if not args.text_only:
                from studio.train.demo_vision import ensure_vision_demo

                print("vision demo", "created" if ensure_vision_demo(ws) else "already present", flush=True)
            return 0
        if args.command == "config":
            if args.action == "presets":
                print("\n".join(presets.list_presets()))
                return 0
            cfg, issues = presets.from_preset(args.preset) if args.preset else cfgmod.from_dict({}, "defaults")
            cli_runs.print_issues(issues, args.lang)
            print(cfgmod.to_yaml(cfg), end="")
            return 2 if cfgmod.has_errors(issues) else 0
        commands = {"train": cli_runs.cmd_train, "validate": cli_runs.cmd_validate, "runs": cli_runs.cmd_runs,
                    "data": cli_data.cmd_data, "chat": cli_chat.cmd_chat,
                    "export": cli_export.cmd_export, "models": cli_models.cmd_models, "eval": cli_eval.cmd_eval}
        return commands[args.command](ws, args)
    except StudioError as err:
        print(f"error: {err.text(args.lang)}", file=sys.stderr)
        return 2
