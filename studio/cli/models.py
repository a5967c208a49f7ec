"""`python -m studio models ...`: the Models tab's twin (what is on this machine, hub downloads, deleting from the
cache, pushing an export)."""

from __future__ import annotations

import argparse
import sys
import threading
from pathlib import Path

from studio.cli.chat import _ask, _say
from studio.core.errors import StudioError
from studio.core.messages import both
from studio.core.workspace import Workspace


def add_parsers(sub: argparse._SubParsersAction) -> None:
    m = sub.add_parser("models", help="models in the workspace and the Hugging Face cache; download, delete, push")
    m_sub = m.add_subparsers(dest="action")
    m_sub.add_parser("list", help="workspace models and cached hub models (the default)")
    d = m_sub.add_parser("download", help="download a hub model (safetensors only) into the HF cache")
    d.add_argument("repo", help="owner/name")
    rm = m_sub.add_parser("delete", help="delete a hub model from the HF cache")
    rm.add_argument("repo", help="owner/name")
    rm.add_argument("--yes", action="store_true", help="do not ask for confirmation")
    p = m_sub.add_parser("push", help="upload an export folder to a hub model repository (token: HF_TOKEN)")
    p.add_argument("folder", type=Path)
    p.add_argument("--repo", required=True, help="owner/name (created if missing)")
    p.add_argument("--private", action="store_true", help="create the repository private")


def cmd_models(ws: Workspace, args: argparse.Namespace) -> int:
    from studio.model import hub

    say = _say(args.lang)
    if args.action in (None, "list"):
        print(f"{'name':40} {'where':9} {'MiB':>9} {'type':12} {'params':>10} safetensors template vision")
        for m in hub.list_models(ws):
            print(f"{m.name:40} {m.where:9} {m.size / 2**20:9.1f} {m.arch:12} {m.params / 1e6:9.2f}M "
                  f"{'yes' if m.safetensors else 'no':11} {'yes' if m.chat_template else 'no':8} "
                  f"{'yes' if m.vision else 'no'}")
        return 0
    if args.action == "download":
        target = hub.plan(args.repo)
        say(both("hub.plan", repo=target.repo_id, files=len(target.files), total=f"{target.size / 2**20:.1f}"))
        stop = threading.Event()
        try:
            folder = hub.download(target, _bar(), stop)
            print(file=sys.stderr)  # the progress line ends
        except (KeyboardInterrupt, hub.Stopped):
            stop.set()
            print(file=sys.stderr)
            raise StudioError("hub.stopped", repo=target.repo_id, done="?", total=f"{target.size / 2**20:.1f}") \
                from None
        say(both("hub.done", repo=target.repo_id, total=f"{target.size / 2**20:.1f}", path=str(folder)))
        print(folder)
        return 0
    if args.action == "delete":
        confirm = args.repo if args.yes else (_ask(f"Type {args.repo} to delete it from the cache: ") or "")
        freed = hub.delete_cached(args.repo, confirm)
        say(both("hub.deleted", repo=args.repo, mb=f"{freed / 2**20:.1f}"))
        return 0
    folder = ws.cli_path(args.folder)
    if not folder.is_dir():
        raise StudioError("hub.not_export", folder=str(folder))
    url = hub.push(folder, args.repo, args.private)
    say(both("hub.pushed", folder=str(folder), repo=args.repo, url=url))
    return 0


def _bar():  # -> hub.Progress
    def show(done: int, total: int, seconds: float) -> None:
        speed = done / seconds / 2**20 if seconds > 0 else 0.0
        left = (total - done) / (done / seconds) if done and seconds > 0 else 0.0
        print(f"\r{done / 2**20:8.1f} / {total / 2**20:.1f} MiB  {speed:6.1f} MiB/s  {left:5.0f} s left", end="",
              file=sys.stderr, flush=True)
    return show
