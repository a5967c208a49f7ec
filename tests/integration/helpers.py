"""Shared helpers for tests that run the real worker."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).parents[2]


def cli(*args: str, timeout: float = 240) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    return subprocess.run([sys.executable, "-m", "studio", *args], cwd=ROOT, env=env, capture_output=True,
                          text=True, timeout=timeout, stdin=subprocess.DEVNULL)


def wait_for(predicate: Callable[[], bool], timeout: float, every: float = 0.2) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(every)
    return predicate()


def demo_run(root: Path, demo_model: Path, config: str, preset: str = "demo"):  # -> Workspace
    """A fresh workspace at `root` with the demo dataset and model, and one finished run of `config` (YAML text)."""
    import shutil

    from studio.core.workspace import Workspace
    from studio.train.demo import DEMO_MODEL, ensure_dataset

    ws = Workspace.at(root)
    ensure_dataset(ws)
    shutil.copytree(demo_model, ws.root / DEMO_MODEL)
    (ws.root / "run.yaml").write_text(config, encoding="utf-8")
    done = cli("--workspace", str(ws.root), "train", str(ws.root / "run.yaml"), "--preset", preset)
    assert done.returncode == 0, done.stderr[-2000:]
    return ws
