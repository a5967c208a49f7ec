"""Preference training in a real browser: a pair previewed side by side with its differences marked, the pair
report's length bias, what DPO learns from a pair, the demo-dpo preset trained from the Train tab, and its reward
curves and wrongly preferred pairs in the Runs tab, in both languages."""

import pytest
from playwright.sync_api import expect

from studio.core.workspace import Workspace

from .pages import StudioPage, english_fragments, english_left

pytestmark = pytest.mark.browser


def test_pairs_previewed_trained_and_charted(studio: StudioPage, ws: Workspace) -> None:
    studio.open()
    studio.expect_text("data-status", "row 1 of 212")  # the page's first load is done
    studio.expect_text("learn-summary", "trained (template chatml)")
    studio.pick("data-select", "demo_preference")
    studio.expect_text("data-status", "preference pair")
    pair = studio.page.locator("#data-pair")
    expect(pair.locator(".studio-chosen")).to_contain_text("Pico is glad to help.", timeout=15_000)
    # the closing line is what only the chosen answer says: marked on that side, nothing marked on the other
    expect(pair.locator("mark.studio-only-chosen")).to_contain_text("glad to help")
    assert pair.locator("mark.studio-only-rejected").count() == 0
    studio.expect_text("learn-summary", "Chosen (made more likely)")
    expect(studio.page.locator("#learn-html .learn-side-rejected")).to_be_visible()
    studio.shot("1-pair-preview")

    studio.data_tab("data-report-tab")
    studio.pick("report-dataset", "demo_preference")
    studio.page.locator("#report-run").click()
    studio.expect_text("report-quality", "chosen longer than rejected", timeout=60_000)
    studio.expect_text("report-advice", "In 100% of the pairs the chosen answer is the longer one")
    studio.expect_text("report-lengths", "rejected answer")
    studio.shot("2-pair-report")

    studio.tab("Train")
    studio.pick("train-preset", "demo-dpo")
    expect(studio.page.locator("#cfg-group-preference")).to_be_visible(timeout=15_000)
    studio.expect_text("train-memory", "DPO: each pair's chosen and rejected answers go through one forward")
    studio.start_training()
    studio.expect_text("runs-status", "finished", timeout=180_000)
    studio.page.locator("#runs-worst-box").get_by_text("Worst training rows").click()
    studio.expect_text("runs-worst-note", "still preferred wrongly under the final weights", timeout=30_000)
    expect(studio.page.locator("#runs-curves img")).to_be_visible(timeout=30_000)
    studio.page.wait_for_timeout(1000)
    studio.shot("3-dpo-run")

    studio.choose_language("中文")
    studio.expect_text("runs-worst-note", "仍被错误偏好的偏好对")
    expect(studio.page.get_by_role("tab", name="训练")).to_be_visible(timeout=60_000)  # relabelled by the switch
    studio.tab("训练")
    left = english_left(studio.page, english_fragments())
    assert not left, left
    studio.shot("4-train-zh")
