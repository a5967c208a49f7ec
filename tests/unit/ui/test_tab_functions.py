"""The tabs' decisions as plain functions: chat settings from the boxes, what Load loads, the Train tab's batch
arithmetic, memory text and command preview (a refused value never becomes a command)."""

from __future__ import annotations

from pathlib import Path

import pytest

from studio.core.errors import StudioError
from studio.core.workspace import DEMO_MODEL, Workspace
from studio.runs.prepare import prepare
from studio.serve.chat import GenSettings
from studio.serve.targets import page_target
from studio.ui.chat_tab import settings_of
from studio.ui.train_tab import batch_text, memory_text


def test_settings_of_takes_defaults_and_names_a_bad_box() -> None:
    defaults = GenSettings()
    assert settings_of((128, 0.0, 1.0, 50, 1.0, 0)) == defaults
    assert settings_of((64.0, 0.7, 0.9, 40.0, 1.1, 3)).max_new_tokens == 64
    for values, field in (((None, 0.0, 1.0, 50, 1.0, 0), "max_new_tokens"), ((128, "zzz", 1.0, 50, 1.0, 0),
                                                                              "temperature")):
        with pytest.raises(StudioError, match=field):
            settings_of(values)


def test_page_target_run_or_fenced_model_folder(ws: Workspace) -> None:
    with pytest.raises(StudioError, match="choose a run"):
        page_target(ws, "run", None, None, "", "", "chatml", None)
    with pytest.raises(StudioError, match="a model must be a folder under models/"):
        page_target(ws, "model", None, None, "/etc", None, "chatml", None)
    target = page_target(ws, "model", None, None, DEMO_MODEL, None, "chatml", None)
    assert target.base == str(ws.root / DEMO_MODEL) and target.adapter is None and target.backend == "transformers"


def test_train_tab_texts_come_from_the_one_prepare(ws: Workspace, tmp_path: Path) -> None:
    p = prepare(ws, {"per_device_train_batch_size": 4, "gradient_accumulation_steps": 2, "num_processes": 2},
                "demo", full=False, from_browser=True)
    assert "4 per device × 2 accumulation × 2 process(es) = **16**" in batch_text(p.config, "en")
    assert "GiB" in memory_text(p, "en") or "MiB" in memory_text(p, "en")
    outside = prepare(ws, {"model_name_or_path": str(tmp_path)}, "demo", full=False, from_browser=True)
    assert "a model must be a folder under models/" in memory_text(outside, "en") and outside.estimate is None
    assert "grouped by length** (the default)" in memory_text(p, "en")  # the batching path picked, and why
    assert "answer tokens only" not in memory_text(p, "en")  # two processes keep the model's own loss
    one = prepare(ws, {"packing": True}, "demo", full=False, from_browser=True)
    text = memory_text(one, "zh")
    assert "成批方式：打包" in text and "损失只在回答 token 上计算" in text


def test_run_status_shows_memory_by_phase(tmp_path: Path) -> None:
    from studio.runs.manage import RunInfo
    from studio.ui.render import status_markdown

    status = {"state": "finished", "peak_rss_mb": 1703,
              "memory": [{"phase": "imports", "peak_mb": 362.4}, {"phase": "training", "peak_mb": 1703.0},
                         {"phase": "worst rows", "peak_mb": 700.0}, {"phase": "<b>odd</b>", "peak_mb": 1}]}
    text = status_markdown(RunInfo("r1", tmp_path, status), "python -m studio.train r1", "en")
    assert "Memory by phase, peak MiB: imports 362 · training 1,703 · per-row loss 700 · &lt;b&gt;odd&lt;/b&gt; 1" in text
    assert "整个运行：1,703 MiB" in status_markdown(RunInfo("r1", tmp_path, status), "x", "zh")
