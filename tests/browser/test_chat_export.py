"""Chat with a checkpoint and the final weights, compare base and tuned, unload; export merged and adapter-only
from the browser, refusing a non-empty folder without "replace" and a folder outside exports/."""

from pathlib import Path

import pytest
from playwright.sync_api import expect

from studio.core.workspace import Workspace
from tests.integration.helpers import cli, wait_for

from .pages import StudioPage

pytestmark = pytest.mark.browser


@pytest.fixture
def trained(ws: Workspace, tmp_path: Path) -> str:
    cfg = tmp_path / "ident.yaml"
    cfg.write_text("run_name: ident\nmax_steps: 160\nsave_steps: 80\nsave_total_limit: 2\nworst_rows: 0\n",
                   encoding="utf-8")
    done = cli("--workspace", str(ws.root), "train", str(cfg), "--preset", "demo")
    assert done.returncode == 0, done.stderr[-2000:]
    return "ident"


def test_chat_compare_unload(trained: str, studio: StudioPage) -> None:
    studio.open()
    studio.tab("Chat")
    expect(studio.page.locator("#chat-run input")).to_have_value(trained, timeout=15_000)
    studio.page.locator("#chat-weights input").click()
    for option in ("final", "checkpoint-160", "checkpoint-80"):
        expect(studio.page.get_by_role("option", name=option)).to_be_visible()
    studio.page.keyboard.press("Escape")
    studio.load_chat()
    studio.expect_text("chat-loaded", "ident · final", timeout=60_000)
    studio.ask("你是谁？")
    studio.expect_text("chat-box", "微调工作室", timeout=60_000)
    studio.expect_text("chat-stats", "tokens/s")
    studio.page.locator("#chat-settings").get_by_text("Generation settings").click()
    studio.page.locator("#chat-regenerate").click()
    expect(studio.page.locator("#chat-seed input")).to_have_value("1", timeout=30_000)

    studio.page.locator("#chat-compare-panel").get_by_text("Compare with the base model").click()
    studio.page.locator("#chat-compare-input textarea").fill("你是谁？")
    studio.page.locator("#chat-compare").click()
    studio.expect_text("chat-tuned-reply", "微调工作室", timeout=60_000)
    studio.expect_text("chat-tuned-stats", "first token")
    assert "微调工作室" not in studio.text("chat-base-reply") and studio.text("chat-base-reply").strip()
    studio.shot("1-compare")

    studio.pick("chat-weights", "checkpoint-80")
    studio.load_chat()
    studio.expect_text("chat-loaded", "ident · checkpoint-80", timeout=60_000)
    studio.page.locator("#chat-unload").click()
    studio.expect_text("chat-loaded", "Unloaded")
    studio.ask("hello")
    studio.toast("No model is loaded")

    studio.page.locator("#chat-source").get_by_text("a model folder").click()
    studio.page.locator("#chat-model textarea").fill("../../../etc")
    studio.load_chat()
    studio.expect_text("chat-loaded", "a model must be a folder under models/")
    studio.page.locator("#chat-model textarea").fill("models/demo-tiny")
    studio.page.locator("#chat-adapter textarea").fill(f"runs/{trained}/checkpoint-80")
    studio.load_chat()
    studio.expect_text("chat-loaded", "Loaded:", timeout=60_000)
    studio.expect_text("chat-loaded", "checkpoint-80")
    studio.page.locator("#chat-max-new-tokens input").fill("0")
    studio.ask("hi")
    studio.toast("max_new_tokens: 0 is outside 1 to 8192")
    studio.shot("2-model-folder")


def test_export_from_the_browser(trained: str, ws: Workspace, studio: StudioPage) -> None:
    studio.open()
    studio.tab("Export")
    expect(studio.page.locator("#export-run input")).to_have_value(trained, timeout=15_000)
    studio.expect_value("export-out", "exports/ident-final")
    studio.page.locator("#export-start").click()
    studio.expect_text("export-status", "Exported to", timeout=60_000)
    studio.expect_text("export-serve", "vllm serve")
    studio.expect_text("export-client", "OpenAI(")
    out = ws.root / "exports" / "ident-final"
    assert (out / "config.json").exists() and (out / "tokenizer.json").exists()
    studio.shot("1-exported")
    before = (out / "config.json").stat().st_mtime_ns
    studio.page.locator("#export-start").click()
    studio.expect_text("export-status", "exists and is not empty")  # a sentence; the serving lines stay
    studio.expect_text("export-serve", "vllm serve")
    assert (out / "config.json").stat().st_mtime_ns == before  # untouched
    studio.page.locator("#export-replace").get_by_text("Replace").click()
    studio.page.locator("#export-start").click()
    assert wait_for(lambda: (out / "config.json").exists() and (out / "config.json").stat().st_mtime_ns != before,
                    timeout=60)  # replaced, since it was asked for
    studio.expect_text("export-status", "Exported to", timeout=60_000)
    studio.page.locator("#export-merge").get_by_text("Merge").click()
    studio.expect_value("export-out", "exports/ident-final-adapter")
    studio.page.locator("#export-start").click()
    studio.expect_text("export-status", "-adapter", timeout=60_000)
    studio.expect_text("export-serve", "--enable-lora")
    assert (ws.root / "exports" / "ident-final-adapter" / "adapter_model.safetensors").exists()
    studio.page.locator("#export-out textarea").fill("/tmp/elsewhere")
    studio.page.locator("#export-start").click()
    studio.expect_text("export-status", "exports are written under")
    studio.shot("2-adapter")
