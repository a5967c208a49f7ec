"""A new user's first hour as one story, in a real browser on a fresh workspace: the demo model appears, a
file with its own role names is registered with the roles proposed, inspected, a run is trained, aborted and
resumed, chatted with over two turns, compared with its base, exported twice, and the page is read in Chinese."""

from __future__ import annotations

import re
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import expect

from studio.core.workspace import Workspace
from tests.conftest import start_server

from .conftest import ARTIFACTS, CHROMIUM, CHROMIUM_ARGS
from .pages import StudioPage, english_fragments, english_left

pytestmark = pytest.mark.browser
FIXTURES = Path(__file__).parents[1] / "fixtures"
STARTED = re.compile(r"\d\d-\d\d \d\d:\d\d")


@pytest.fixture
def fresh(tmp_path: Path, request: pytest.FixtureRequest) -> Iterator[tuple[StudioPage, Workspace]]:
    """`python app.py` on an empty folder: the studio makes its workspace and builds the demo model itself."""
    from playwright.sync_api import sync_playwright

    ws = Workspace.at(tmp_path / "workspace")
    proc, url = start_server(ws)
    shots = ARTIFACTS / request.node.name
    shutil.rmtree(shots, ignore_errors=True)
    shots.mkdir(parents=True)
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        page = browser.new_page(viewport={"width": 1400, "height": 1000})
        yield StudioPage(page, url, shots), ws
        browser.close()
    proc.terminate()
    proc.wait(timeout=10)


def test_first_hour(fresh: tuple[StudioPage, Workspace]) -> None:
    studio, ws = fresh
    page = studio.page
    studio.open()

    # 1. the demo model is built while the page is up: a bar with real steps, then every model list fills
    expect(page.locator("#demo-progress")).to_contain_text("Creating the demo model", timeout=20_000)
    studio.shot("01-demo-building")
    expect(page.locator("#learn-model input")).to_have_value("models/demo-tiny", timeout=180_000)
    expect(page.locator("#demo-progress")).to_have_count(0)
    studio.expect_text("learn-summary", "trained (template chatml)")
    studio.expect_text("data-status", "row 1 of 212")
    page.locator("#data-row input").fill("999")  # out of range: clamped, no range message of Gradio's
    page.locator("#data-row input").press("Enter")
    studio.expect_text("data-status", "row 212 of 212")
    expect(page.locator("#data-row input")).to_have_value("212")
    page.locator("#data-row input").fill("0")
    page.locator("#data-row input").press("Enter")
    studio.expect_text("data-status", "row 1 of 212")
    expect(page.locator("#data-row input")).to_have_value("1")
    expect(page.locator(".toast-body")).to_have_count(0)
    studio.shot("02-demo-ready")
    studio.tab("Chat")  # nothing to chat with yet: the empty list says what fills it
    studio.expect_text("chat-run", "No finished run yet: train one in the Train tab first.")
    studio.tab("Data")

    # 2. a file copied into data/ while the page is open appears after "Re-read folder"; its roles are proposed
    studio.data_tab("data-add-tab")
    shutil.copyfile(FIXTURES / "support_chats.json", ws.data_dir / "support_chats.json")
    page.locator("#map-refresh").click()
    studio.pick("map-file", "nope.json")  # a wrong name first: one sentence, the form stays usable
    studio.expect_text("map-notes", "nope.json")
    expect(page.locator("#map-formatting")).to_be_visible()
    expect(page.locator("#tabs .error")).to_have_count(0)
    studio.pick("map-file", "support_chats.json")
    studio.expect_text("map-notes", "'customer' → user, 'agent' → assistant")
    expect(page.locator("#map-tag-user_tag input")).to_have_value("customer")
    expect(page.locator("#map-tag-assistant_tag input")).to_have_value("agent")
    studio.expect_text("map-conv", "Could you give me the order number?")
    studio.expect_text("map-status", "row 1 of 6")
    page.locator("#map-name textarea").fill("support")
    page.locator("#map-save").click()
    studio.expect_text("map-result", "Registered support")
    studio.shot("03-registered")
    studio.pick("map-file", "demo_identity.json")  # the next file: the old "Registered" line goes
    expect(page.locator("#map-result")).not_to_contain_text("Registered", timeout=10_000)

    # 3. inspect it: kept rows and token lengths with the demo tokenizer
    studio.data_tab("data-report-tab")
    studio.pick("report-dataset", "support")
    page.locator("#report-run").click()
    studio.expect_text("report-summary", "6 of 6 rows kept")
    studio.expect_text("report-lengths", "p99")
    studio.shot("04-inspected")

    # 4. train the demo preset; abort after its first checkpoint, resume, and finish
    studio.tab("Train")
    studio.expect_text("train-memory", "Parameters: base")
    studio.start_training()
    studio.expect_text("train-result", "started", timeout=15_000)
    studio.expect_value("runs-log", r"checkpoint-240", timeout=120_000)
    page.locator("#runs-abort").click()
    studio.expect_text("runs-status", "aborted", timeout=30_000)
    expect(page.locator("#runs-abort")).to_be_disabled(timeout=10_000)
    expect(page.locator("#runs-resume")).to_be_enabled()
    first_start = STARTED.search(studio.text("runs-table")).group(0)
    page.locator("#runs-resume").click()
    studio.expect_text("runs-status", "finished", timeout=180_000)
    expect(page.locator("#runs-resume")).to_be_disabled(timeout=10_000)
    expect(page.locator("#runs-abort")).to_be_disabled()
    assert STARTED.search(studio.text("runs-table")).group(0) == first_start  # the first start, not the resume's
    page.wait_for_timeout(1500)
    studio.shot("05-resumed-finished")

    # 5. chat two turns; the second bubble is an answer or says why there is none; Regenerate samples
    studio.tab("Chat")
    expect(page.locator("#chat-run input")).not_to_have_value("", timeout=30_000)
    studio.load_chat()
    studio.expect_text("chat-loaded", "Loaded:", timeout=60_000)
    studio.ask("who are you?")
    studio.expect_text("chat-box", "Pico", timeout=60_000)
    studio.expect_text("chat-stats", "tokens/s")
    studio.ask("你是谁？")
    bubbles = page.locator("#chat-box .message-row")
    expect(bubbles).to_have_count(4, timeout=60_000)
    studio.expect_text("chat-stats", "tokens/s", timeout=60_000)
    assert bubbles.nth(3).inner_text().strip(), "the second reply is an empty bubble"
    page.locator("#chat-regenerate").click()
    studio.expect_text("chat-stats", "sampling at temperature 0.7", timeout=60_000)
    studio.shot("06-chat")

    # 6. compare base and tuned on one prompt
    page.locator("#chat-compare-panel").get_by_text("Compare with the base model").click()
    page.locator("#chat-compare-input textarea").fill("who are you?")
    page.locator("#chat-compare").click()
    studio.expect_text("chat-tuned-reply", "Pico", timeout=60_000)
    studio.expect_text("chat-base-stats", "tokens")
    studio.shot("07-compare")

    # 7. export; the second time without Replace is a sentence, and the serving lines stay
    studio.tab("Export")
    expect(page.locator("#export-run input")).not_to_have_value("", timeout=30_000)  # the tab's run list
    page.locator("#export-start").click()
    studio.expect_text("export-status", "Exported to", timeout=90_000)
    studio.expect_text("export-serve", "vllm serve")
    page.locator("#export-start").click()
    studio.expect_text("export-status", "exists and is not empty")
    studio.expect_text("export-serve", "vllm serve")
    expect(page.locator("#tabs .error")).to_have_count(0)
    studio.shot("08-export-twice")

    # 8. Chinese on every tab, none of our English left; the choice survives a reload
    studio.choose_language("中文")
    fragments = english_fragments()
    for tab in ("数据", "训练", "运行", "对话", "导出"):
        studio.tab(tab)
        if tab == "训练":
            for group in page.locator("[id^=cfg-group-] > button").all():
                group.click()
        page.wait_for_timeout(1500)
        if tab == "数据":
            for sub in ("data-list-tab", "data-add-tab", "data-report-tab"):
                studio.data_tab(sub)
                page.wait_for_timeout(1000)
                assert not english_left(page, fragments), (sub, english_left(page, fragments))
                studio.shot(f"09-zh-{sub}")
        assert not english_left(page, fragments), (tab, english_left(page, fragments))
        studio.shot(f"10-zh-{tab}")
    page.reload()
    expect(page.get_by_role("tab", name="训练")).to_be_visible(timeout=30_000)
    studio.expect_text("data-status", "共 212 行", timeout=30_000)

    # 9. delete asks first, naming the run
    studio.tab("运行")
    run_id = page.locator("#runs-select input").input_value()
    page.locator("#runs-delete").click()
    studio.expect_text("runs-confirm-text", run_id)
    assert (ws.runs_dir / run_id).exists()
    page.locator("#runs-delete-yes").click()
    studio.expect_text("runs-message", run_id)
    assert not (ws.runs_dir / run_id).exists()
    studio.shot("11-deleted")
