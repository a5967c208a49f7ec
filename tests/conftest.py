"""Isolation for every test: workspace and HF caches under tmp_path, hub offline; one demo model per session."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from studio.core.workspace import Workspace
from studio.train.demo import DEMO_MODEL, create_model, ensure_dataset

FIXTURES = Path(__file__).parent / "fixtures"
ROOT = Path(__file__).parents[1]


@pytest.fixture(autouse=True)
def _isolate(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("HF_HOME", str(tmp_path / "hf-home"))
    monkeypatch.setenv("GRADIO_ANALYTICS_ENABLED", "False")


def built_once(factory: pytest.TempPathFactory, name: str, build: Callable[[Path], object]) -> Path:
    """A session's model, built by the first of the parallel test processes (pytest-xdist) that needs it; the
    others wait on a lock and read the same folder (each test copies what it changes into its own workspace)."""
    import fcntl

    root = factory.getbasetemp()
    root = root.parent if os.environ.get("PYTEST_XDIST_WORKER") else root  # the run's folder, shared by workers
    target = root / "shared-models" / name
    target.parent.mkdir(exist_ok=True)
    with open(target.parent / f"{name}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not (target / "model.safetensors").exists():
            build(target)
    return target


@pytest.fixture(scope="session")
def demo_model(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The demo model, built once for the whole session by the same code `python app.py` runs."""
    return built_once(tmp_path_factory, "demo-tiny", create_model)


@pytest.fixture(scope="session")
def vision_model(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The vision demo model (a tiny warmed-up Qwen2-VL), built once per session by the studio's own code."""
    from studio.train.demo_vision import create_vision_model

    return built_once(tmp_path_factory, "demo-vl", create_vision_model)


@pytest.fixture
def vision_ws(tmp_path: Path, vision_model: Path) -> Workspace:
    """A fresh workspace holding the vision demo's images and rows and a copy of its model."""
    from studio.core.workspace import DEMO_VISION_MODEL
    from studio.train.demo_vision import ensure_vision_dataset

    workspace = Workspace.at(tmp_path / "workspace")
    ensure_vision_dataset(workspace)
    shutil.copytree(vision_model, workspace.root / DEMO_VISION_MODEL)
    return workspace


@pytest.fixture
def ws(tmp_path: Path, demo_model: Path) -> Workspace:
    """A fresh workspace holding the demo dataset and a copy of the demo model."""
    workspace = Workspace.at(tmp_path / "workspace")
    ensure_dataset(workspace)
    shutil.copytree(demo_model, workspace.root / DEMO_MODEL)
    return workspace


_bad_inputs = {"answered": 0, "failed": 0}


def pytest_runtest_logreport(report: pytest.TestReport) -> None:
    if report.when == "call" and "bad_input" in report.keywords:
        _bad_inputs["answered" if report.passed else "failed"] += 1


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    """The fault suite's tally: how many malformed inputs were each answered with one clear sentence."""
    if sum(_bad_inputs.values()):
        terminalreporter.write_line(f"bad inputs answered with one sentence: {_bad_inputs['answered']} "
                                    f"(not answered: {_bad_inputs['failed']})")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_server(ws: Workspace, port: int | None = None, extra: tuple[str, ...] = (),
                 wait_s: float = 60, env: dict[str, str] | None = None) -> tuple[subprocess.Popen[bytes], str]:
    """`python app.py` on a loopback port serving `ws`, once it answers; its output goes to app-stdout.log."""
    port = port or _free_port()
    env = {**os.environ, "PYTHONPATH": str(ROOT), "HF_HUB_OFFLINE": "1", "GRADIO_ANALYTICS_ENABLED": "False",
           **(env or {})}
    with open(ws.root / "app-stdout.log", "ab") as log:
        vision = () if "--vision-demo" in extra else ("--no-vision-demo",)  # its build would load the CPU
        proc = subprocess.Popen([sys.executable, "app.py", "--workspace", str(ws.root), "--port", str(port),
                                 *vision, *(a for a in extra if a != "--vision-demo")],
                                cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}/"
    deadline = time.monotonic() + wait_s
    while time.monotonic() < deadline:
        try:
            urllib.request.urlopen(url, timeout=1)
            return proc, url
        except OSError:
            assert proc.poll() is None, (ws.root / "app-stdout.log").read_text()
            time.sleep(0.3)
    raise AssertionError(f"the server did not answer on {url} within {wait_s:.0f} s")


@pytest.fixture
def server(ws: Workspace) -> Iterator[str]:
    proc, url = start_server(ws)
    yield url
    proc.terminate()
    proc.wait(timeout=10)
