"""Registering data by point-and-click in a real browser: the two hard cases, a duplicate name, a path
outside the workspace, and the quality / length report."""

import json
from pathlib import Path

import pytest
from playwright.sync_api import expect

from studio.core.workspace import Workspace

from .pages import StudioPage

pytestmark = pytest.mark.browser
FIXTURES = Path(__file__).parents[1] / "fixtures"


def test_register_text_to_sql_and_multimodal_files(studio: StudioPage, ws: Workspace) -> None:
    (ws.data_dir / "llava_single.json").write_bytes((FIXTURES / "llava_single.json").read_bytes())
    from PIL import Image

    Image.new("RGB", (700, 700), (200, 30, 30)).save(ws.data_dir / "000443568.jpg")  # row 1's picture; row 2's is absent
    studio.open()
    studio.expect_text("data-raw", "instruction")
    studio.expect_text("data-mapping", "response ← output")  # the effective mapping, defaults filled in
    studio.page.locator("#data-next").click()
    studio.expect_text("data-status", "row 2")
    studio.data_tab("data-add-tab")

    # 1. upload a text-to-SQL file: prompt = question, query = evidence are proposed; the answer column is chosen
    studio.page.locator("input[type=file][accept*='.jsonl']").set_input_files(str(FIXTURES / "text2sql.jsonl"))
    studio.expect_text("map-result", "text2sql.jsonl")
    expect(studio.page.locator("#map-col-prompt input")).to_have_value("question", timeout=15_000)
    expect(studio.page.locator("#map-col-query input")).to_have_value("evidence")
    studio.expect_text("map-status", "response: choose the column")  # nothing chosen for the answer yet: said, not hidden
    studio.expect_text("map-raw", "SELECT COUNT(*)")  # while the raw row stays in view
    studio.pick("map-col-response", "SQL")
    studio.expect_text("map-conv", "SELECT COUNT(*) FROM schools")
    studio.expect_text("map-conv", "Alameda County refers to")
    studio.shot("1-map-sql")
    studio.page.locator("#map-name textarea").fill("bird_sql")
    studio.page.locator("#map-save").click()
    studio.expect_text("map-result", "Registered bird_sql")
    entry = json.loads(ws.registry_file.read_text(encoding="utf-8"))["bird_sql"]
    assert entry["columns"] == {"prompt": "question", "query": "evidence", "response": "SQL"}
    assert "demo_identity" in json.loads(ws.registry_file.read_text(encoding="utf-8"))

    # the same name again: asked, not overwritten
    studio.page.locator("#map-save").click()
    studio.expect_text("map-result", "already registered")
    expect(studio.page.locator("#map-overwrite")).to_be_visible()

    # 2. multimodal sharegpt with a string image column and no <image>: said, and repaired at conversion time
    studio.pick("map-file", "llava_single.json")
    studio.expect_text("map-notes", "single path per row")
    studio.expect_text("map-notes", "no <image> placeholder")
    studio.expect_text("map-conv", "<image>Write a detailed description")
    expect(studio.page.locator("#map-images img")).to_have_count(1, timeout=15_000)  # the row's picture, small
    studio.page.locator("#map-next").click()
    studio.expect_text("map-status", "row 2")
    studio.expect_text("map-status", "not readable as an image): 000443569.jpg")
    expect(studio.page.locator("#map-images")).to_be_hidden()
    studio.page.locator("#map-next").click()
    studio.expect_text("map-status", "2 <image> placeholder(s) in the text but 1 file(s)")
    studio.shot("2-map-llava")
    studio.page.locator("#map-name textarea").fill("llava_single")
    studio.page.locator("#map-save").click()
    studio.expect_text("map-result", "Registered llava_single")
    assert (ws.data_dir / "llava_single.json").read_bytes() == (FIXTURES / "llava_single.json").read_bytes()

    # a path outside the workspace typed into the file box is refused in the status line; the form stays usable
    # and the previous file's row is no longer shown as if it were this one's
    studio.pick("map-file", "../../../etc/passwd")
    studio.expect_text("map-notes", "must be inside the data folder")
    expect(studio.page.locator("#map-conv")).not_to_contain_text("Write a detailed description", timeout=10_000)
    expect(studio.page.locator("#map-formatting")).to_be_visible()
    expect(studio.page.locator("#tabs .error")).to_have_count(0)

    # the report: kept / dropped by reason, lengths with the demo tokenizer, a cutoff question
    studio.data_tab("data-report-tab")
    studio.pick("report-dataset", "bird_sql")
    studio.page.locator("#report-run").click()
    studio.expect_text("report-summary", "4 of 5 rows kept")
    studio.expect_text("report-reasons", "empty answer")
    studio.expect_text("report-reasons", "the answer is empty")
    studio.expect_text("report-lengths", "p99")
    studio.expect_text("report-advice", "Suggested cutoff_len")
    studio.page.locator("#report-cutoff input").fill("40")
    studio.page.locator("#report-cutoff input").press("Enter")
    studio.expect_text("report-effect", "At cutoff_len 40")
    studio.shot("3-report")

    # the new datasets are listed in the registry table, and in Chinese the report speaks Chinese
    studio.data_tab("data-list-tab")
    studio.expect_text("data-list", "bird_sql")
    studio.tab("Train")  # and offered as a training dataset without a reload
    studio.page.locator("#cfg-dataset input").click()
    expect(studio.page.get_by_role("option", name="llava_single")).to_be_visible(timeout=10_000)
    studio.page.keyboard.press("Escape")
    studio.tab("Data")
    studio.choose_language("中文")
    studio.data_tab("data-report-tab")
    studio.expect_text("report-summary", "保留")
    studio.expect_text("report-reasons", "空回答")
    studio.shot("4-report-zh")
