"""A GGUF export from the Export tab, and the Models tab against a local hub server: the cache listed, a download
with its progress bar, stopped and taken up again, a pickle-only repository refused, a cached model deleted with
its id typed again, and an export pushed with the server's HF_TOKEN."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
import torch
from playwright.sync_api import expect
from safetensors.torch import save_file

from studio.core.workspace import Workspace
from studio.train.demo import DEMO_MODEL
from tests.conftest import start_server
from tests.integration.fakehub import FakeHub
from tests.integration.helpers import cli

from .conftest import ARTIFACTS, CHROMIUM
from .pages import CHROMIUM_ARGS, StudioPage

pytestmark = pytest.mark.browser


@pytest.fixture
def page_with_hub(ws: Workspace, tmp_path: Path, request: pytest.FixtureRequest) -> Iterator[tuple[StudioPage, FakeHub]]:
    cfg = tmp_path / "ident.yaml"
    cfg.write_text("run_name: ident\nmax_steps: 60\nworst_rows: 0\n", encoding="utf-8")
    done = cli("--workspace", str(ws.root), "train", str(cfg), "--preset", "demo")
    assert done.returncode == 0, done.stderr[-2000:]
    hub = FakeHub(tmp_path / "hub")
    for repo in ("acme/tiny", "acme/big", "acme/pickles"):
        (hub.root / repo).mkdir(parents=True)
        shutil.copy2(ws.root / DEMO_MODEL / "config.json", hub.root / repo / "config.json")
    for name in ("model.safetensors", "tokenizer.json", "tokenizer_config.json", "chat_template.jinja"):
        shutil.copy2(ws.root / DEMO_MODEL / name, hub.root / "acme/tiny" / name)
    save_file({"w": torch.zeros(6 * 2**20)}, hub.root / "acme/big/model.safetensors")
    (hub.root / "acme/pickles/pytorch_model.bin").write_bytes(b"\x80\x04" + bytes(2000))
    hub.start()
    proc, url = start_server(ws, env={"HF_HUB_OFFLINE": "0", "HF_ENDPOINT": hub.url, "HF_TOKEN": "hf_test"})
    from playwright.sync_api import sync_playwright

    shots = ARTIFACTS / request.node.name
    shots.mkdir(parents=True, exist_ok=True)
    try:
        with sync_playwright() as pw:
            browser = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
            yield StudioPage(browser.new_page(viewport={"width": 1400, "height": 1000}), url, shots), hub
            browser.close()
    finally:
        proc.terminate()
        proc.wait(timeout=30)
        hub.stop()


def test_gguf_export_then_models_tab(page_with_hub: tuple[StudioPage, FakeHub], ws: Workspace) -> None:
    studio, hub = page_with_hub
    studio.open()
    studio.tab("Export")
    expect(studio.page.locator("#export-run input")).to_have_value("ident", timeout=15_000)
    studio.pick("export-format", "q8_0")
    expect(studio.page.locator("#export-out textarea, #export-out input").first).to_have_value(
        "exports/ident-final-q8_0", timeout=15_000)
    studio.page.locator("#export-start").click()
    studio.expect_text("export-status", "the GGUF takes", timeout=120_000)
    studio.expect_text("export-serve", "ollama create ident-final-q8_0 -f Modelfile")
    assert (ws.root / "exports/ident-final-q8_0/ident-final-q8_0.gguf").is_file()
    studio.shot("1-gguf-export")

    studio.tab("Models")
    studio.expect_text("models-table", "models/demo-tiny")
    studio.page.locator("#models-repo input, #models-repo textarea").first.fill("acme/pickles")
    studio.page.locator("#models-download").click()
    studio.expect_text("models-download-status", "has only pickle weights (pytorch_model.bin)")

    hub.slow(3 * 2**20)  # 24 MiB at 3 MiB/s: time to see the bar and to stop it
    studio.page.locator("#models-repo input, #models-repo textarea").first.fill("acme/big")
    studio.page.locator("#models-download").click()
    studio.expect_text("models-download-status", "acme/big: 2 files, 24.0 MiB")
    studio.expect_text("models-download-status", "MiB/s", timeout=30_000)  # the bar, with speed and time left
    studio.shot("2-progress")
    studio.page.locator("#models-stop").click()
    studio.expect_text("models-download-status", "download stopped", timeout=60_000)
    studio.shot("3-stopped")
    hub.slow(None)
    studio.page.locator("#models-download").click()
    studio.expect_text("models-download-status", "is in the cache (24.0 MiB, hashes checked)", timeout=60_000)
    studio.page.locator("#models-repo input, #models-repo textarea").first.fill("acme/tiny")
    studio.page.locator("#models-download").click()
    studio.expect_text("models-download-status", "acme/tiny is in the cache", timeout=60_000)
    studio.expect_text("models-table", "acme/tiny")
    studio.expect_text("models-table", "HF cache")
    studio.shot("4-listed")

    studio.pick("models-cached", "acme/tiny")
    studio.page.locator("#models-delete").click()
    studio.expect_text("models-status", "type its id again")
    studio.page.locator("#models-confirm input, #models-confirm textarea").first.fill("acme/tiny")
    studio.page.locator("#models-delete").click()
    studio.expect_text("models-status", "Deleted acme/tiny from the cache")
    expect(studio.page.locator("#models-table")).not_to_contain_text("acme/tiny", timeout=15_000)

    studio.pick("models-export", "ident-final-q8_0")
    studio.page.locator("#models-push-repo input, #models-push-repo textarea").first.fill("me/ident")
    studio.page.locator("#models-push").click()
    studio.expect_text("models-status", "Pushed ident-final-q8_0 to me/ident", timeout=60_000)
    assert (hub.root / "me/ident/ident-final-q8_0.gguf").is_file() and "me/ident" in hub.private
    studio.choose_language("中文")
    studio.expect_text("models-table", "HF 缓存", timeout=60_000)
    expect(studio.page.get_by_role("tab", name="模型")).to_be_visible(timeout=60_000)
    studio.expect_text("models-status", "已把 ident-final-q8_0 推送到 me/ident", timeout=60_000)
    studio.shot("5-zh")
