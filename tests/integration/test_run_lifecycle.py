"""Abort, kill -9 and bad input: a run never shows as running forever, and always says why it ended."""

import json
import os
import signal
from pathlib import Path

import pytest

from studio.core import presets
from studio.core.workspace import Workspace
from studio.data.registry import register
from studio.runs import manage as runs

from .helpers import cli, wait_for

pytestmark = pytest.mark.integration


def _long_run(ws: Workspace) -> Path:
    cfg, _ = presets.from_preset("demo", {"num_train_epochs": 500, "save_steps": 100000})
    run_dir = runs.start(ws, cfg, "demo")
    assert wait_for(lambda: runs.run_status(run_dir).get("step", 0) > 0, timeout=90)
    return run_dir


def test_abort_stops_process_group_and_shows_aborted(ws: Workspace) -> None:
    run_dir = _long_run(ws)
    pid = runs.run_status(run_dir)["pid"]
    assert runs.abort(ws, run_dir.name).status["abort_requested"] is True
    assert wait_for(lambda: runs.run_status(run_dir)["state"] == "aborted", timeout=15)
    assert wait_for(lambda: not Path(f"/proc/{pid}").exists(), 10)  # reaped, not left a zombie
    assert "aborted by SIGTERM" in (run_dir / "train.log").read_text()


def test_kill_9_shows_failed_within_3_seconds(ws: Workspace) -> None:
    run_dir = _long_run(ws)
    os.kill(runs.run_status(run_dir)["pid"], signal.SIGKILL)
    assert wait_for(lambda: runs.run_status(run_dir)["state"] == "failed", timeout=3)
    assert "signal 9" in runs.run_status(run_dir)["error"]


def test_dead_worker_found_by_a_restarted_server(ws: Workspace) -> None:
    """No reaper thread (a new server process): the pid in status.json is checked instead."""
    cfg, _ = presets.from_preset("demo")
    run_dir = runs.create_run(ws, cfg, "demo")
    (run_dir / "train.log").write_text("RuntimeError: out of memory\n", encoding="utf-8")
    status = json.loads((run_dir / "status.json").read_text())
    status.update(state="running", pid=2**22 + 7)  # no such process
    (run_dir / "status.json").write_text(json.dumps(status))
    after = runs.run_status(run_dir)
    assert after["state"] == "failed" and "RuntimeError: out of memory" in after["error"]


@pytest.mark.bad_input
def test_worker_fails_with_sentence_naming_bad_rows(ws: Workspace) -> None:
    (ws.data_dir / "broken.json").write_text('[{"instruction": "q"}, {"question": "x"}]', encoding="utf-8")
    register(ws.registry_file, "broken", {"file_name": "broken.json"})
    cfg, _ = presets.from_preset("demo", {"dataset": "broken"})
    run_dir = runs.start(ws, cfg, "demo")
    assert wait_for(lambda: runs.run_status(run_dir)["state"] == "failed", timeout=90)
    error = runs.run_status(run_dir)["error"]
    assert ("Dataset 'broken': none of its 2 rows is usable; most frequent reasons: 2× broken.json row 1: "
            "column 'output' is missing (mapped as response)") in error


@pytest.mark.bad_input
def test_launch_is_refused_when_no_row_survives(ws: Workspace, tmp_path: Path) -> None:
    (ws.data_dir / "broken.json").write_text('[{"instruction": "q", "output": ""}, {"instruction": "x"}]',
                                             encoding="utf-8")
    register(ws.registry_file, "broken", {"file_name": "broken.json"})
    cfg = tmp_path / "c.yaml"
    cfg.write_text("dataset: broken\n", encoding="utf-8")
    done = cli("--workspace", str(ws.root), "train", str(cfg), "--preset", "demo")
    assert done.returncode == 2 and not list(ws.runs_dir.iterdir())
    assert "none of its 2 rows is usable; most frequent reasons: 1× broken.json row 1: the answer is empty" \
        in done.stderr


@pytest.mark.bad_input
def test_cli_validate_reports_every_error_and_exits_2(ws: Workspace, tmp_path: Path) -> None:
    cfg = tmp_path / "bad.yaml"
    cfg.write_text("dataset: nope\nlora_rank: 0\nbogus: 1\nprecision: bf16\n", encoding="utf-8")
    result = cli("--workspace", str(ws.root), "validate", str(cfg))
    assert result.returncode == 2
    for expected in ("unknown setting 'bogus'", "lora_rank: 0 is outside", "Dataset 'nope' is not registered",
                     "precision: bf16 needs a CUDA GPU"):
        assert expected in result.stderr
    assert "Traceback" not in result.stderr
    zh = cli("--workspace", str(ws.root), "--lang", "zh", "validate", str(cfg))
    assert "未知的设置项“bogus”" in zh.stderr
