"""Entry point: `python app.py [--host 127.0.0.1] [--port 7860] [--workspace DIR] [--auth USER:PASS] ...`."""

from __future__ import annotations

import argparse
import logging
import os
import shutil
import subprocess
import sys

from studio.core.errors import StudioError
from studio.core.workspace import DATA_DIRS_ENV, MODEL_DIRS_ENV, REMOTE_CODE_ENV, REPO_ROOT, Workspace

LOOPBACK = {"127.0.0.1", "localhost", "::1"}


def parse_auth(value: str) -> tuple[str, str] | None:
    if not value:
        return None
    user, sep, password = value.partition(":")
    if not sep or not user.strip() or not password:
        raise StudioError("server.bad_auth")
    return user, password


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(description="Fine-tuning studio: train LoRA adapters from the browser.")
    p.add_argument("--host", default="127.0.0.1", help="address to bind (default 127.0.0.1: this machine only)")
    p.add_argument("--port", type=int, default=7860)
    p.add_argument("--workspace", default="workspace", help="folder for data, models and runs (default ./workspace)")
    p.add_argument("--auth", default=os.environ.get("STUDIO_AUTH", ""),
                   help="USER:PASS login; required when --host is not a loopback address (or set STUDIO_AUTH)")
    p.add_argument("--allowed-host", action="append", default=[], metavar="NAME",
                   help="a host name the page is reached by besides the bound address and localhost (repeatable; "
                        "other Host headers get 403, which stops DNS rebinding)")
    p.add_argument("--model-dir", action="append", default=[], metavar="DIR",
                   help="a folder of models the page may use besides WORKSPACE/models (repeatable)")
    p.add_argument("--data-dir", action="append", default=[], metavar="DIR",
                   help="a folder that registered datasets may point into besides WORKSPACE/data (repeatable)")
    p.add_argument("--trust-remote-code", action="store_true", default=os.environ.get(REMOTE_CODE_ENV) == "1",
                   help="let model folders run their own Python code (modules inside the folder only); off by "
                        "default, and never a choice of the page")
    p.add_argument("--max-upload", default="2GB", help="largest upload accepted (default 2GB)")
    p.add_argument("--cache-dir", default=os.environ.get("STUDIO_CACHE_DIR", ""),
                   help="tokenized datasets and HF caches (default WORKSPACE/cache); shared storage lets "
                        "several machines reuse one preprocessing")
    p.add_argument("--lang", choices=("en", "zh"), default="en", help="language the page opens in")
    p.add_argument("--no-vision-demo", action="store_true",
                   help="do not build the vision demo (a tiny Qwen2-VL and coloured-shape pictures) after the text demo")
    return p


def _operator_settings(args: argparse.Namespace) -> None:
    """The operator's choices travel in the environment, so the CLI children and workers read the same fence."""
    if args.cache_dir:
        os.environ["STUDIO_CACHE_DIR"] = args.cache_dir
    for env, folders in ((MODEL_DIRS_ENV, args.model_dir), (DATA_DIRS_ENV, args.data_dir)):
        if folders:
            os.environ[env] = os.pathsep.join(os.path.abspath(os.path.expanduser(f)) for f in folders)
    os.environ[REMOTE_CODE_ENV] = "1" if args.trust_remote_code else "0"


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    from studio.ui.guard import parse_size

    try:
        auth = parse_auth(args.auth)
        if args.host not in LOOPBACK and auth is None:
            raise StudioError("server.login_needed", host=args.host)
        max_upload = parse_size(args.max_upload)
    except StudioError as err:
        print(f"error: {err.text(args.lang)}", file=sys.stderr)
        return 2
    except ValueError:
        print(f"error: --max-upload: '{args.max_upload}' is not a size such as 2GB or 500MB.", file=sys.stderr)
        return 2
    from studio.ui.server import allowed_hosts, bind

    try:
        sock = bind(args.host, args.port)
    except OSError as exc:
        busy = StudioError("server.port_busy", host=args.host, port=args.port, detail=exc.strerror or exc)
        print(f"error: {busy.text(args.lang)}", file=sys.stderr)
        return 2

    _operator_settings(args)
    ws = Workspace.at(args.workspace)
    uploads = ws.uploads_dir  # Gradio's temp files: inside the workspace, emptied at every start
    shutil.rmtree(uploads, ignore_errors=True)
    uploads.mkdir(parents=True, exist_ok=True)
    os.environ["GRADIO_TEMP_DIR"] = str(uploads)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s",
                        handlers=[logging.StreamHandler(), logging.FileHandler(ws.root / "server.log")])
    from studio.serve.export import recover
    from studio.train.demo import demo_model_ready, ensure_dataset
    from studio.train.demo_vision import ensure_vision_dataset, vision_model_ready

    for line in recover(ws.exports_dir):
        logging.getLogger("studio.export").info("exports: %s", line)
    if args.trust_remote_code:
        logging.getLogger("studio").warning(StudioError("server.remote_code").text())
    ensure_dataset(ws)
    vision = not args.no_vision_demo
    if vision:
        ensure_vision_dataset(ws)
    if not demo_model_ready(ws) or (vision and not vision_model_ready(ws)):
        # built by the CLI twin in a child process, so the page is served at once (the text demo first)
        subprocess.Popen([sys.executable, "-m", "studio", "--workspace", str(ws.root), "demo",
                          *(() if vision else ("--text-only",))], cwd=REPO_ROOT)

    from studio.ui.app import CSS_PATH, build_app
    from studio.ui.server import serve

    blocks = build_app(ws, args.lang)
    blocks.queue(default_concurrency_limit=4)
    serve(blocks, sock, host=args.host, port=args.port, hosts=allowed_hosts(args.host, args.allowed_host),
          auth=auth, max_upload=max_upload, css=CSS_PATH)
    return 0


if __name__ == "__main__":
    os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")
    os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")  # chat shares the cores with workers: see machine.worker_env
    raise SystemExit(main())
