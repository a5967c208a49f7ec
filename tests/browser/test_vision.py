"""A llava-style picture file (string `image`, no <image>) registered by clicks, trained on the vision demo
model, and asked about an uploaded picture in the Chat tab, in a real browser."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from playwright.sync_api import expect

from studio.core.workspace import DEMO_VISION_MODEL, Workspace
from studio.train.demo_vision import colour_rows

from .pages import StudioPage

pytestmark = pytest.mark.browser


@pytest.fixture(autouse=True)
def _pictures(ws: Workspace, vision_model: Path) -> None:
    """Before the server starts: the vision model, and 240 pictures described in llava's own layout."""
    shutil.copytree(vision_model, ws.root / DEMO_VISION_MODEL)
    rows = colour_rows(ws.data_dir / "shapes", "shapes", 240, seed=7)
    llava = [{"id": str(i), "image": r["images"][0],
              "conversations": [{"from": "human", "value": r["messages"][0]["content"].replace("<image>", "")},
                                {"from": "gpt", "value": r["messages"][1]["content"]}]} for i, r in enumerate(rows)]
    (ws.data_dir / "llava_shapes.json").write_text(json.dumps(llava, ensure_ascii=False), encoding="utf-8")


def test_register_llava_file_train_and_ask_about_an_uploaded_picture(studio: StudioPage, ws: Workspace,
                                                                     tmp_path: Path) -> None:
    page = studio.page
    studio.open()
    studio.expect_text("data-raw", "instruction")  # the page's load handlers have run (they refill the lists)
    studio.data_tab("data-add-tab")
    studio.pick("map-file", "llava_shapes.json")
    studio.expect_text("map-notes", "single path per row")
    studio.expect_text("map-notes", "no <image> placeholder")
    studio.expect_text("map-conv", "<image>")
    expect(page.locator("#map-images img")).to_have_count(1, timeout=15_000)
    page.locator("#map-name textarea").fill("llava_shapes")
    page.locator("#map-save").click()
    studio.expect_text("map-result", "Registered llava_shapes")
    studio.shot("1-registered")

    # Train: the vision preset on the new file; the vision options appear; the learn view shows the picture's chip
    studio.tab("Train")
    expect(page.locator("#cfg-group-vision")).to_be_hidden(timeout=10_000)  # the text demo model: no vision options
    studio.pick("train-preset", "demo-vision")
    expect(page.locator("#cfg-model_name_or_path input")).to_have_value("models/demo-vl", timeout=15_000)
    expect(page.locator("#cfg-group-vision")).to_be_visible(timeout=15_000)
    studio.pick("cfg-dataset", "llava_shapes")
    page.locator("#train-learn-box").click()
    studio.expect_text("train-learn-html", "<|image_pad|>×9", timeout=30_000)
    studio.expect_text("train-learn-html", "84×84")
    studio.shot("2-train-form")
    studio.start_training()
    studio.expect_text("train-result", "started", timeout=15_000)
    studio.expect_text("runs-status", "finished", timeout=240_000)
    page.locator("#runs-worst-box").click()
    expect(page.locator("#runs-worst-pictures img").first).to_be_visible(timeout=20_000)
    studio.shot("3-finished")

    # Chat: load the run, attach an unseen picture, ask its colour
    held = colour_rows(tmp_path / "held", "held", 6, seed=999)
    studio.tab("Chat")
    expect(page.locator("#chat-run input")).not_to_have_value("", timeout=30_000)
    studio.load_chat()
    studio.expect_text("chat-loaded", "Loaded:", timeout=60_000)
    right = 0
    for row in held[:3]:
        page.locator("#chat-image input[type=file]").set_input_files(str(tmp_path / "held" / Path(row["images"][0]).name))
        expect(page.locator("#chat-image img")).to_be_visible(timeout=15_000)
        studio.ask("What colour is the shape?")
        studio.expect_text("chat-stats", "tokens/s", timeout=60_000)
        expect(page.locator("#chat-image img")).to_be_hidden(timeout=15_000)  # the field is emptied once sent
        right += row["colour"] in page.locator("#chat-box .message-row").last.inner_text()
        page.locator("#chat-clear").click()
        expect(page.locator("#chat-box .message-row")).to_have_count(0, timeout=10_000)
    assert right >= 2, f"{right} of 3 colours named"
    page.locator("#chat-image input[type=file]").set_input_files(str(tmp_path / "held" / Path(held[3]["images"][0]).name))
    studio.ask("What colour is the shape?")
    expect(page.locator("#chat-box img")).to_have_count(1, timeout=30_000)  # the picture stays in the conversation
    studio.expect_text("chat-stats", "tokens/s", timeout=60_000)
    studio.ask("这个图形是什么颜色？")  # a second turn about the same picture
    expect(page.locator("#chat-box .message-row")).to_have_count(4, timeout=60_000)
    studio.shot("4-chat")
    page.locator("#chat-box .bubble-wrap").evaluate("el => el.scrollTo(0, 0)")
    page.wait_for_timeout(500)
    studio.shot("5-chat-top")
