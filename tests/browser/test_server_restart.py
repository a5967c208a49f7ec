"""Stop the UI server in the middle of a run and start it again: the run kept training, and the new server
shows it live in the browser (its step keeps rising on the page)."""

import re
import subprocess
import urllib.request

import pytest
from playwright.sync_api import expect

from studio.core import presets
from studio.core.workspace import Workspace
from studio.runs import manage as runs
from tests.conftest import start_server
from tests.integration.helpers import wait_for

from .pages import StudioPage

pytestmark = pytest.mark.browser


def _answers(url: str) -> bool:
    try:
        urllib.request.urlopen(url, timeout=1)
        return True
    except OSError:
        return False


def _page_step(studio: StudioPage) -> int:
    found = re.search(r"step (\d+)", studio.text("runs-progress"))
    return int(found.group(1)) if found else 0


def test_run_survives_a_server_restart_and_shows_live(ws: Workspace, studio: StudioPage) -> None:
    studio.open()
    first = studio.page.url
    cfg, _ = presets.from_preset("demo", {"num_train_epochs": 500, "save_steps": 100000, "logging_steps": 5,
                                          "worst_rows": 0, "run_name": "through"})
    run_dir = runs.start(ws, cfg, "demo")
    studio.tab("Runs")
    studio.expect_text("runs-status", "running", timeout=60_000)
    assert wait_for(lambda: _page_step(studio) > 0, timeout=60)

    # the fixture's server goes away (SIGTERM, as a service manager stops it); the run must not notice
    port = int(first.rstrip("/").rsplit(":", 1)[1])
    subprocess.run(["pkill", "-f", f"app.py --workspace {ws.root}"], check=False)
    assert wait_for(lambda: not _answers(first), timeout=15)
    step_at_stop = runs.run_status(run_dir)["step"]
    assert wait_for(lambda: runs.run_status(run_dir)["step"] > step_at_stop + 20, timeout=60)
    assert runs.run_status(run_dir)["state"] == "running"

    proc, url = start_server(ws, port=port)  # same address: the open page reconnects as a user would reload
    try:
        studio.page.goto(url)
        expect(studio.page.locator("#tabs")).to_be_visible(timeout=30_000)
        studio.tab("Runs")
        studio.expect_text("runs-status", "running", timeout=30_000)
        assert wait_for(lambda: _page_step(studio) > step_at_stop + 20, timeout=60)
        seen = _page_step(studio)
        assert wait_for(lambda: _page_step(studio) > seen, timeout=30)  # still moving: live, not a snapshot
        studio.shot("1-after-restart")
    finally:
        runs.abort(ws, "through", wait=True)
        proc.terminate()
        proc.wait(timeout=10)
