"""A real studio server on a free port with a temporary workspace, and real Chromium to drive it."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

from .pages import CHROMIUM_ARGS, StudioPage

ROOT = Path(__file__).parents[2]
ARTIFACTS = ROOT / "test-artifacts"
CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"


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
