"""`python -m studio export`: the Export tab's twin (a merged folder, the adapter alone, or a GGUF with its
Ollama Modelfile), from a run's weights or from a model folder."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from studio.cli.chat import _ask, _say, _weights_args, _which
from studio.core.errors import StudioError
from studio.core.workspace import Workspace


def add_parsers(sub: argparse._SubParsersAction) -> None:
    ex = sub.add_parser("export", help="export a run (or a model folder) for serving: merged safetensors, the "
                                       "adapter alone, or a GGUF file for llama.cpp / Ollama")
    _weights_args(ex, required=False)
    ex.add_argument("--model", default="", help="a model folder to export instead of a run (GGUF)")
    ex.add_argument("--adapter", default="", help="a LoRA adapter folder merged into --model first")
    ex.add_argument("--template", default="chatml", help="chat template of --model (a run knows its own)")
    ex.add_argument("--out", type=Path, required=True, help="output folder (must be empty or absent)")
    ex.add_argument("--merge", action="store_true", help="merge the adapter into the base weights")
    ex.add_argument("--gguf", default="", metavar="TYPE",
                    help="write one GGUF file (f16, bf16 or q8_0) and an Ollama Modelfile instead of safetensors")
    ex.add_argument("--overwrite", action="store_true", help="replace a non-empty output folder")
    ex.add_argument("--max-shard-size", default="2GB", help="largest safetensors shard (e.g. 500MB, 5GB)")
    ex.add_argument("--name", default="", help="the name clients use (default: the folder's name)")


def cmd_export(ws: Workspace, args: argparse.Namespace) -> int:
    from studio.serve import export
    from studio.serve import targets as chat_targets

    if args.gguf:
        from studio.serve import gguf

        gguf.check_kind(args.gguf)  # a K-quant or a missing package is said before any weight is read
    if args.run:
        target = chat_targets.run_target(ws, args.run, _which(args.checkpoint))
    elif args.model and args.gguf:
        target = chat_targets.model_target(ws, args.model, args.adapter, args.template)
    else:
        raise StudioError("export.no_source")
    out = ws.cli_path(args.out)
    overwrite = args.overwrite
    if not overwrite and out.is_dir() and any(out.iterdir()) and sys.stdin.isatty():
        overwrite = (_ask(f"{out} is not empty; replace it? [y/N] ") or "").strip().lower() in ("y", "yes")
    if args.gguf:
        done = gguf.export_gguf(target, out, args.gguf, overwrite, _say(args.lang), args.name, _bar())
    else:
        done = export.export(target, out, args.merge, overwrite, _say(args.lang), args.max_shard_size, args.name)
    print(f"{done.out}\n\n# serve\n{done.serve}\n\n# query\n{done.client}", end="")
    return 0


def _bar():  # -> Progress
    """A one-line byte count on stderr while a GGUF is written (a terminal's progress bar)."""
    def show(done: int, total: int) -> None:
        end = "\n" if done >= total else ""
        print(f"\r{done / 2**20:8.1f} / {total / 2**20:.1f} MiB", end=end, file=sys.stderr, flush=True)
    return show
