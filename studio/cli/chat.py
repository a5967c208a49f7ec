"""`python -m studio chat`: the Chat tab's twin."""

from __future__ import annotations

import argparse
import dataclasses
import sys
from pathlib import Path

from studio.core.errors import StudioError
from studio.core.messages import Both
from studio.core.workspace import Workspace
from studio.serve.chat import GenSettings


def add_parsers(sub: argparse._SubParsersAction) -> None:
    ch = sub.add_parser("chat", help="chat with a run (final weights or a checkpoint) or a model folder")
    _weights_args(ch, required=False)
    ch.add_argument("--model", default="", help="a model folder or cached hub id (without --run)")
    ch.add_argument("--adapter", default="", help="a LoRA adapter folder to apply on --model")
    ch.add_argument("--template", default="chatml", help="chat template for --model (a run knows its own)")
    ch.add_argument("--backend", choices=("transformers", "unsloth"), default="transformers",
                    help="unsloth: faster on a GPU where it is installed (never required)")
    ch.add_argument("--prompt", default="", help="one message; without it, an interactive loop")
    ch.add_argument("--system", default="", help="system prompt")
    ch.add_argument("--image", action="append", default=[], type=Path, metavar="FILE",
                    help="a picture sent with the first message (repeat for several; a model that sees images)")
    ch.add_argument("--compare", action="store_true", help="answer --prompt with the base model, the adapter the run "
                    "started from (if it continued one), then the tuned weights")
    ch.add_argument("--stats", action="store_true", help="print time to first token and tokens/s to stderr")
    for f in dataclasses.fields(GenSettings):  # defaults, bounds and help declared once, in GenSettings
        low, high = f.metadata["range"]
        ch.add_argument(f"--{f.name.replace('_', '-')}", type=type(f.default), default=f.default,
                        help=f"{f.metadata['help']} ({low}..{high}, default {f.default})")


def _weights_args(p: argparse.ArgumentParser, required: bool) -> None:
    p.add_argument("--run", default="", required=required, help="a run id")
    p.add_argument("--checkpoint", default="final", help="N or checkpoint-N (default: the final weights)")


def _which(value: str) -> str:
    return f"checkpoint-{value}" if value.isdigit() else value


def _say(lang: str):
    return lambda message: print(message.text(lang) if isinstance(message, Both) else message, file=sys.stderr,
                                  flush=True)


def cmd_chat(ws: Workspace, args: argparse.Namespace) -> int:
    from studio.serve import chat
    from studio.serve import targets as chat_targets

    settings = GenSettings(**{f.name: getattr(args, f.name) for f in dataclasses.fields(GenSettings)})
    settings.check()  # before minutes of loading
    if args.run:
        target = chat_targets.run_target(ws, args.run, _which(args.checkpoint))
    else:
        target = chat_targets.model_target(ws, args.model, args.adapter, args.template)
    images = [str(ws.cli_path(p)) for p in args.image]
    for path in images:
        if not Path(path).is_file():
            raise StudioError("chat.bad_image", reason=f"{path}: no such file")
    cm = chat.load(dataclasses.replace(target, backend=args.backend), _say(args.lang))
    if args.compare:
        if not args.prompt:
            raise StudioError("chat.empty")
        for side in chat.sides(cm):
            stats = chat.ReplyStats()
            first = {"role": "user", "content": args.prompt, "images": images}
            text = chat.reply(cm, [first], settings, args.system, side, stats)
            print(f"[{side}]\n{text}", flush=True)
            if args.stats:
                print(stats.line(args.lang), file=sys.stderr)
        return 0
    history: list[dict[str, str]] = []
    prompts = [args.prompt] if args.prompt else None
    while True:
        prompt = prompts.pop(0) if prompts else (None if prompts is not None else _ask("> "))
        if not prompt:
            return 0
        history.append({"role": "user", "content": prompt, "images": images if not history else []})
        stats = chat.ReplyStats()
        text = chat.reply(cm, history, settings, args.system, stats=stats)
        print(text, flush=True)
        if args.stats:
            print(stats.line(args.lang), file=sys.stderr)
        history.append({"role": "assistant", "content": text})


def _ask(prompt: str) -> str | None:
    try:
        return input(prompt)
    except EOFError:
        return None
