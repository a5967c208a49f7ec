"""A user's first two minutes, in a real browser: see the demo data, train, watch, chat, switch language."""

import pytest
from playwright.sync_api import expect

from .pages import StudioPage

pytestmark = pytest.mark.browser


def test_demo_train_watch_and_chat(studio: StudioPage) -> None:
    studio.open()
    # Data: the demo dataset is listed and its rows are shown
    studio.expect_text("data-list", "demo_identity")
    studio.expect_text("data-raw", "instruction")
    studio.expect_text("data-conv", "你是怎么学会自己名字的？")
    studio.shot("1-data")

    # Train: demo model, demo dataset, demo preset are preselected
    studio.tab("Train")
    expect(studio.page.locator("#train-preset input")).to_have_value("demo")
    expect(studio.page.locator("#cfg-dataset input")).to_have_value("demo_identity")
    studio.expect_text("train-batch", "8")
    studio.shot("2-train")
    studio.start_training()

    # Runs: the app switches here; the run moves, draws its curve, then finishes
    studio.expect_text("train-result", "started", timeout=15_000)
    studio.expect_text("runs-status", "running", timeout=30_000)
    studio.expect_text("runs-progress", "step", timeout=30_000)
    studio.expect_value("runs-log", r"\[metrics\] step=20 ", timeout=60_000)
    studio.shot("3-runs-live")
    studio.expect_text("runs-status", "finished", timeout=120_000)
    studio.expect_text("runs-progress", "100%")
    studio.page.wait_for_timeout(1500)
    studio.shot("4-runs-finished")

    # Chat: load the finished run and ask who it is; the answer streams in
    studio.tab("Chat")
    expect(studio.page.locator("#chat-run input")).not_to_have_value("", timeout=30_000)  # the tab's run list
    studio.load_chat()
    studio.expect_text("chat-loaded", "Loaded:", timeout=60_000)
    studio.expect_text("chat-loaded", "adapter")
    studio.ask("who are you?")
    studio.expect_text("chat-box", "Pico", timeout=60_000)
    studio.expect_text("chat-stats", "tokens/s", timeout=30_000)
    studio.shot("5-chat")

    # Language: every label switches to Chinese
    studio.choose_language("中文")
    expect(studio.page.get_by_role("tab", name="数据")).to_be_visible(timeout=10_000)
    studio.expect_text("chat-send", "发送")
    studio.tab("运行")
    studio.expect_text("runs-status", "已完成", timeout=10_000)
    studio.shot("6-runs-zh")
