"""Launcher argv, the on-disk queue's order, curve smoothing, and the Runs tab's cached losses."""

from __future__ import annotations

import json
import shlex
import sys
import time
from pathlib import Path

import pytest

from studio.core.config import RunConfig
from studio.core.rundir import CONFIG_FILE, METRICS_FILE, update_status
from studio.runs import manage
from studio.runs.curves import series, smooth
from studio.runs.launcher import command_preview, node_commands, run_status, worker_argv
from studio.runs.queue import waiting


def test_worker_argv_single_process_and_several_machines(tmp_path: Path) -> None:
    run = tmp_path / "r"
    assert worker_argv(run, RunConfig()) == [sys.executable, "-m", "studio.train", str(run)]
    assert worker_argv(run, RunConfig(), resume="checkpoint-8")[-2:] == ["--resume", "checkpoint-8"]
    cfg = RunConfig(num_processes=2, num_machines=2, main_process_ip="10.0.0.1")
    argv = worker_argv(run, cfg)
    assert argv[1:3] == ["-m", "accelerate.commands.launch"] and argv[argv.index("--num_processes") + 1] == "4"
    assert shlex.split(command_preview(run, cfg)) == argv
    lines = node_commands(run, cfg)
    assert len(lines) == 2 and "--machine_rank 0" in lines[0] and "--machine_rank 1" in lines[1]


def _run(runs: Path, name: str, state: str, at: float) -> Path:
    path = runs / name
    path.mkdir(parents=True)
    (path / CONFIG_FILE).write_text("{}\n")
    update_status(path, state=state, queued_at=at)
    return path


def test_queue_is_oldest_first_and_skips_other_states(tmp_path: Path) -> None:
    _run(tmp_path, "b", "queued", 2.0)
    _run(tmp_path, "a", "queued", 3.0)
    _run(tmp_path, "c", "finished", 1.0)
    (tmp_path / "not-a-run").mkdir()
    assert [p.name for p in waiting(tmp_path)] == ["b", "a"]


def test_run_status_marks_a_vanished_worker(tmp_path: Path) -> None:
    run = _run(tmp_path, "r", "running", 0.0)
    update_status(run, pid=2**22 + 12345, pid_start="0")  # no such process
    status = run_status(run)
    assert status["state"] == "failed" and "error" in status
    update_status(run, state="running", abort_requested=True)
    assert run_status(run)["state"] == "aborted"


def test_smoothing_never_redraws_the_past() -> None:
    values = [4.0, 3.0, 2.5, 2.0, 1.0]
    early, late = smooth(values[:3]), smooth(values)
    assert late[:3] == early and smooth([2.0, 2.0, 2.0]) == pytest.approx([2.0, 2.0, 2.0])
    steps, losses = series([{"step": 1, "loss": 2.0}, {"step": 2}, {"step": 3, "loss": float("nan")},
                            {"step": 4, "loss": 1.0}], "loss")
    assert (steps, losses) == ([1, 4], [2.0, 1.0])


def test_losses_are_read_again_only_when_metrics_change(tmp_path: Path) -> None:
    run = tmp_path / "r"
    run.mkdir()
    (run / METRICS_FILE).write_text(json.dumps({"step": 1, "loss": 2.0}) + "\n")
    assert manage.losses(run) == (2.0, None)
    time.sleep(0.01)
    with open(run / METRICS_FILE, "a") as fh:
        fh.write(json.dumps({"step": 2, "loss": 1.5, "eval_loss": 1.7}) + "\n")
    assert manage.losses(run) == (1.5, 1.7)


def test_actions_follow_the_run_state_and_time_adds_over_resumes(tmp_path) -> None:
    import time as _time

    from studio.runs.manage import RunInfo, actions_for
    from studio.ui.render import train_time

    folder = tmp_path / "r"
    folder.mkdir()
    info = lambda state: RunInfo("r", folder, {"state": state})  # noqa: E731
    assert actions_for(info("running")) == {"abort", "copy"}
    assert actions_for(info("finished")) == {"copy", "delete"}
    assert actions_for(info("aborted")) == {"copy", "delete"}  # no checkpoint: nothing to resume from
    (folder / "checkpoint-10").mkdir()
    (folder / "checkpoint-10" / "trainer_state.json").write_text('{"global_step": 10}')
    assert actions_for(info("aborted")) == {"copy", "delete", "resume"}
    assert train_time({"train_seconds": 30.0, "started_at": 100.0, "finished_at": 120.0}, "finished") == 30.0
    now = _time.time()
    running = train_time({"train_seconds": 30.0, "started_at": now - 10}, "running")
    assert 39.5 < running < 41.5
    assert train_time({"started_at": 100.0, "finished_at": 125.0}, "failed") == 25.0  # a run from before
