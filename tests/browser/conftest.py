"""A real studio server on a free port with a temporary workspace, and real Chromium to drive it."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from studio.workspace import Workspace

from .pages import CHROMIUM_ARGS, StudioPage

ROOT = Path(__file__).parents[2]
ARTIFACTS = ROOT / "test-artifacts"
CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def server(ws: Workspace) -> Iterator[str]:
    port = _free_port()
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    log = open(ws.root / "app-stdout.log", "wb")  # noqa: SIM115 - closed below
    proc = subprocess.Popen([sys.executable, "app.py", "--workspace", str(ws.root), "--port", str(port)],
                            cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}/"
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            urllib.request.urlopen(url, timeout=1)
            break
        except OSError:
            assert proc.poll() is None, (ws.root / "app-stdout.log").read_text()
            time.sleep(0.3)
    yield url
    proc.terminate()
    proc.wait(timeout=10)
    log.close()


@pytest.fixture
def studio(server: str, request: pytest.FixtureRequest) -> Iterator[StudioPage]:
    if not Path(CHROMIUM).exists():
        pytest.fail("chromium is not installed: run `apt-get install -y chromium` (the test command does)")
    from playwright.sync_api import sync_playwright

    shots = ARTIFACTS / request.node.name
    shots.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        page = browser.new_page(viewport={"width": 1400, "height": 1000})
        yield StudioPage(page, server, shots)
        browser.close()
