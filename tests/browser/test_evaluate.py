"""Evaluate tab: a trained run evaluated against its base on its held-out rows from the browser; the score table,
the chart, the rows sorted by where the tuning helped, filtered and paged; the job in the Runs tab; a bad choice
refused with its sentence."""

from pathlib import Path

import pytest
from playwright.sync_api import expect

from studio.core.workspace import Workspace
from tests.integration.helpers import cli

from .pages import StudioPage

pytestmark = pytest.mark.browser


@pytest.fixture
def trained(ws: Workspace, tmp_path: Path) -> str:
    cfg = tmp_path / "ident.yaml"
    cfg.write_text("run_name: ident\nmax_steps: 240\nworst_rows: 0\n", encoding="utf-8")  # half the demo: enough
    done = cli("--workspace", str(ws.root), "train", str(cfg), "--preset", "demo")
    assert done.returncode == 0, done.stderr[-2000:]
    return "ident"


def test_evaluate_compare_sort(trained: str, studio: StudioPage) -> None:
    studio.open()
    studio.tab("Evaluate")
    expect(studio.page.locator("#eval-run input")).to_have_value(trained, timeout=15_000)
    # the chosen weights' chip (the field's help text names "final" too, from the first draw on)
    expect(studio.page.locator("#eval-weights .token").first).to_contain_text("final", timeout=15_000)
    studio.page.locator("#eval-start").click()
    studio.expect_text("eval-message", "started", timeout=30_000)
    studio.expect_text("eval-scores", "exact match", timeout=120_000)
    scores = studio.text("eval-scores")
    assert "base" in scores and "final" in scores and "(better)" in scores, scores  # tuned beats base
    studio.expect_text("eval-offered", "21 of 21 rows have a reference answer")
    expect(studio.page.locator("#eval-chart img")).to_be_visible(timeout=15_000)  # matplotlib, drawn on the server
    studio.shot("1-scores")

    # the rows where the tuning hurt most come first by default; "better" puts the largest gain first
    studio.expect_text("eval-page-note", "21 rows")
    studio.pick("eval-sort", "tuned better first")
    first = studio.page.locator("#eval-rows tbody tr").first
    expect(first).to_contain_text("+", timeout=15_000)
    studio.page.locator("#eval-filter textarea, #eval-filter input").first.fill("Pico")
    studio.expect_text("eval-page-note", "page 1 of 1", timeout=15_000)
    assert "Pico" in studio.text("eval-rows")
    studio.shot("2-rows")

    studio.tab("Runs")
    studio.expect_text("runs-table", "eval-ident", timeout=15_000)

    # a model folder offers registered datasets only (it has no held-out rows); a folder outside: the sentence
    studio.tab("Evaluate")
    studio.page.locator("#eval-source").get_by_text("a model folder").click()
    expect(studio.page.locator("#eval-dataset input")).to_have_value("demo_identity", timeout=15_000)
    studio.pick("eval-model", "models/demo-tiny")
    studio.page.locator("#eval-settings").click()
    studio.page.locator("#eval-sql-dir textarea, #eval-sql-dir input").first.fill("/etc")
    studio.page.locator("#eval-start").click()
    studio.expect_text("eval-message", "outside the workspace", timeout=15_000)
    studio.shot("3-refused")
