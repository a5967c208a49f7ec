"""What the model learns, in a real browser: trained text highlighted in the Data and Train tabs, tokens on
demand, both languages, and a wrong template named before launch."""

import pytest
from playwright.sync_api import expect

from studio.core.workspace import Workspace

from .pages import StudioPage

pytestmark = pytest.mark.browser


def test_learn_view_in_data_and_train_tabs(studio: StudioPage, ws: Workspace) -> None:
    studio.open()
    studio.expect_text("learn-summary", "trained (template chatml)")
    trained = studio.page.locator("#learn-html .learn-t")
    expect(trained.first).to_be_visible(timeout=30_000)
    assert trained.first.inner_text().endswith("<|im_end|>\n")  # the stop token is learned
    assert "<|im_start|>user" in studio.page.locator("#learn-html .learn-m").first.inner_text()
    studio.page.locator("#learn-show input").check()
    expect(studio.page.locator("#learn-tokens")).to_contain_text("<|im_end|>", timeout=15_000)
    expect(studio.page.locator("#learn-tokens")).to_contain_text("yes")
    studio.shot("1-data-learn")
    studio.choose_language("中文")
    studio.expect_text("learn-summary", "参与训练")
    studio.choose_language("English")

    studio.tab("Train")
    studio.page.locator("#train-learn-box").get_by_text("What the model learns").click()
    studio.expect_text("train-learn-summary", "trained (template chatml)")
    studio.pick("cfg-template", "llama3")  # the demo model has no llama3 tokens: said before launch
    studio.expect_text("train-template-note", "<|start_header_id|>")
    studio.expect_text("train-learn-summary", "does not have them")
    studio.pick("cfg-template", "chatml")
    studio.expect_text("train-learn-summary", "trained (template chatml)")
    studio.page.locator("#train-learn-row input").fill("3")
    studio.page.locator("#train-learn-row input").press("Enter")
    studio.expect_text("train-learn-summary", "row 3")
    studio.shot("2-train-learn")
