"""Runs in a real browser: queue a second run, abort, the queue moves on, resume, compare, copy to form."""

import pytest
from playwright.sync_api import expect

from studio.core.workspace import Workspace
from studio.runs import manage as runs

from .pages import StudioPage

pytestmark = pytest.mark.browser


def _set(studio: StudioPage, field: str, value: str) -> None:
    box = studio.page.locator(f"#cfg-{field} input")
    box.fill(value)
    box.press("Tab")


def test_queue_abort_resume_compare_and_copy(studio: StudioPage, ws: Workspace) -> None:
    studio.open()
    studio.tab("Train")
    for group, title in (("train", "Training"), ("output", "Output and checkpoints")):
        studio.page.locator(f"#cfg-group-{group}").get_by_text(title, exact=True).first.click()
    _set(studio, "num_train_epochs", "300")
    _set(studio, "save_steps", "30")
    studio.expect_text("train-memory", "Memory needed")
    studio.expect_text("train-batch", "= 8 rows per step")
    studio.start_training()
    studio.expect_text("runs-status", "running", timeout=30_000)
    studio.expect_value("runs-log", r"\[metrics\] step=40 ", timeout=60_000)
    (first,) = [r.run_id for r in runs.list_runs(ws)]

    studio.tab("Train")
    _set(studio, "learning_rate", "0.002")
    studio.start_training()
    studio.expect_text("train-result", "queued", timeout=15_000)
    second = next(r.run_id for r in runs.list_runs(ws) if r.run_id != first)
    studio.expect_text("runs-table", "queued", timeout=10_000)
    studio.shot("runs-1-queued")

    studio.pick("runs-select", first)
    studio.expect_text("runs-status", first, timeout=10_000)
    studio.page.locator("#runs-abort").click()
    studio.expect_text("runs-status", "aborted", timeout=30_000)
    # the queue moves on by itself: the second run starts
    expect(studio.page.locator("#runs-table")).not_to_contain_text("queued", timeout=30_000)
    studio.pick("runs-select", second)
    studio.expect_text("runs-status", "running", timeout=30_000)
    studio.expect_value("runs-log", r"\[metrics\] step=20 ", timeout=60_000)
    studio.page.locator("#runs-abort").click()
    studio.expect_text("runs-status", "aborted", timeout=30_000)

    studio.pick("runs-select", first)
    studio.page.locator("#runs-resume").click()
    studio.expect_text("runs-status", "running", timeout=30_000)
    studio.expect_value("runs-log", r"resuming from checkpoint-", timeout=60_000)
    studio.page.locator("#runs-log-scale label").click()
    studio.page.wait_for_timeout(2500)
    studio.shot("runs-2-resumed")
    studio.page.locator("#runs-abort").click()
    studio.expect_text("runs-status", "aborted", timeout=30_000)

    studio.page.locator("#runs-compare-box").get_by_text("Compare runs").click()
    studio.pick("runs-compare-pick", first)
    studio.pick("runs-compare-pick", second)
    studio.expect_text("runs-compare-table", "learning_rate", timeout=15_000)
    studio.expect_text("runs-compare-table", "0.002")
    studio.page.wait_for_timeout(1500)
    studio.shot("runs-3-compare")

    studio.pick("runs-select", second)
    studio.expect_text("runs-status", second, timeout=10_000)
    studio.page.locator("#runs-copy").click()
    expect(studio.page.locator("#cfg-learning_rate input")).to_have_value("0.002", timeout=10_000)
    studio.expect_text("train-result", "copied")
    studio.shot("runs-4-copied")
