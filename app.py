"""Entry point: `python app.py [--host 127.0.0.1] [--port 7860] [--workspace DIR] [--auth USER:PASS]`."""

from __future__ import annotations

import argparse
import logging
import os
import subprocess
import sys

from studio.errors import StudioError
from studio.workspace import REPO_ROOT, Workspace

LOOPBACK = {"127.0.0.1", "localhost", "::1"}


def parse_auth(value: str) -> tuple[str, str] | None:
    if not value:
        return None
    if ":" not in value:
        raise StudioError("server.bad_auth")
    user, password = value.split(":", 1)
    return user, password


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description="Fine-tuning studio: train LoRA adapters from the browser.")
    p.add_argument("--host", default="127.0.0.1", help="address to bind (default 127.0.0.1: this machine only)")
    p.add_argument("--port", type=int, default=7860)
    p.add_argument("--workspace", default="workspace", help="folder for data, models and runs (default ./workspace)")
    p.add_argument("--auth", default=os.environ.get("STUDIO_AUTH", ""),
                   help="USER:PASS login; required when --host is not a loopback address (or set STUDIO_AUTH)")
    p.add_argument("--cache-dir", default=os.environ.get("STUDIO_CACHE_DIR", ""),
                   help="tokenized datasets and HF caches (default WORKSPACE/cache); shared storage lets "
                        "several machines reuse one preprocessing")
    p.add_argument("--lang", choices=("en", "zh"), default="en", help="language the page opens in")
    args = p.parse_args(argv)
    try:
        auth = parse_auth(args.auth)
        if args.host not in LOOPBACK and auth is None:
            raise StudioError("server.login_needed", host=args.host)
    except StudioError as err:
        print(f"error: {err.text(args.lang)}", file=sys.stderr)
        return 2

    if args.cache_dir:  # runs inherit it through their environment
        os.environ["STUDIO_CACHE_DIR"] = args.cache_dir
    ws = Workspace.at(args.workspace)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s",
                        handlers=[logging.StreamHandler(), logging.FileHandler(ws.root / "server.log")])
    from studio.demo import demo_model_ready, ensure_dataset

    ensure_dataset(ws)
    if not demo_model_ready(ws):  # built by the CLI twin in a child process, so the page is served at once
        subprocess.Popen([sys.executable, "-m", "studio", "--workspace", str(ws.root), "demo"], cwd=REPO_ROOT)

    from studio.ui.app import CSS_PATH, build_app

    blocks = build_app(ws, args.lang)
    blocks.queue(default_concurrency_limit=4)
    blocks.launch(server_name=args.host, server_port=args.port, auth=auth, css_paths=[CSS_PATH],
                  show_error=False, footer_links=[])
    return 0


if __name__ == "__main__":
    os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")
    raise SystemExit(main())
