"""Resume after a crash and after an abort, the on-disk queue, and bad input refused before launch."""

import json
import os
import signal
from pathlib import Path

import pytest

from studio.core import presets
from studio.core.rundir import checkpoints, read_metrics, read_status
from studio.core.workspace import Workspace
from studio.runs import manage as runs
from studio.runs.queue import dispatch

from .helpers import cli, wait_for

pytestmark = pytest.mark.integration


def _steps(run_dir: Path) -> list[int]:
    return [m["step"] for m in read_metrics(run_dir)[0] if "loss" in m]


def test_crash_then_resume_then_abort_keeps_one_line_per_step(ws: Workspace) -> None:
    cfg, _ = presets.from_preset("demo", {"num_train_epochs": 500, "save_steps": 20, "logging_steps": 5,
                                          "save_total_limit": 3, "run_name": "long"})
    run_dir = runs.start(ws, cfg, "demo")
    assert wait_for(lambda: max(_steps(run_dir), default=0) >= 50, timeout=90)
    os.kill(runs.run_status(run_dir)["pid"], signal.SIGKILL)
    assert wait_for(lambda: runs.run_status(run_dir)["state"] == "failed", timeout=5)
    latest = int(checkpoints(run_dir)[-1].name.split("-")[1])
    assert max(_steps(run_dir)) > latest  # steps after the last checkpoint were logged, and will be redone

    resumed = cli("--workspace", str(ws.root), "runs", "resume", "long")
    assert resumed.returncode == 0 and f"from checkpoint-{latest}" in resumed.stdout, resumed.stderr
    assert wait_for(lambda: max(_steps(run_dir), default=0) >= latest + 30, timeout=90)
    aborted = cli("--workspace", str(ws.root), "runs", "abort", "long", "--grace", "30")
    assert aborted.returncode == 0 and "long: aborted" in aborted.stdout, aborted.stderr
    status = runs.run_status(run_dir)
    assert status["state"] == "aborted" and status["exit_code"] == 143
    step = status["step"]
    assert (run_dir / f"checkpoint-{step}" / "trainer_state.json").exists()  # saved on SIGTERM
    steps = _steps(run_dir)
    assert steps == sorted(set(steps)) and steps == list(range(5, steps[-1] + 1, 5))  # no duplicate, no gap
    log = (run_dir / "train.log").read_text()
    assert f"resuming from checkpoint-{latest}" in log and f"checkpoint saved at step {step}" in log
    assert "--resume" in (run_dir / "command.txt").read_text()


def test_second_start_waits_in_the_queue_and_starts_when_the_device_frees(ws: Workspace) -> None:
    first, _ = presets.from_preset("demo", {"num_train_epochs": 500, "save_steps": 100000, "run_name": "a"})
    second, _ = presets.from_preset("demo", {"max_steps": 4, "run_name": "b", "worst_rows": 0})
    a = runs.start(ws, first, "demo")
    b = runs.start(ws, second, "demo")
    assert wait_for(lambda: runs.run_status(a).get("step", 0) > 0, timeout=90)
    assert runs.run_status(b)["state"] == "queued" and "pid" not in runs.run_status(b)
    listed = cli("--workspace", str(ws.root), "runs", "list")
    assert "b\tqueued" in listed.stdout and "a\trunning" in listed.stdout
    runs.abort(ws, "a")
    # nobody polls here: the exiting worker itself starts the next queued run
    assert wait_for(lambda: read_status(b)["state"] == "finished", timeout=120)
    assert runs.run_status(b)["launched_at"] >= runs.run_status(a)["finished_at"] - 1


@pytest.mark.parametrize(("yaml_text", "expected"), [
    ("learning_rate: 0\n", "learning_rate: 0.0 is outside the allowed range"),
    ("learning_rate: -1e-4\n", "learning_rate: -0.0001 is outside the allowed range"),
    ("per_device_train_batch_size: 0\n", "per_device_train_batch_size: 0 is outside the allowed range"),
    ("gradient_accumulation_steps: 0\n", "gradient_accumulation_steps: 0 is outside the allowed range"),
    ("cutoff_len: 4096\n", "cutoff_len: 4096 is more than the model's limit of 1024 tokens"),
    ("model_name_or_path: models/nope\n", "model_name_or_path: 'models/nope' is neither a model folder"),
    ("dataset: nope\n", "Dataset 'nope' is not registered"),
    ("run_name: a/b\n", "run_name: 'a/b' is not a usable name"),
    ("run_name: ..\n", "run_name: '..' is not a usable name"),
    ("early_stopping_patience: 2\nval_size: 0\n", "early_stopping_patience: early stopping watches the eval loss"),
    ("quantization: 4bit\n", "quantization: '4bit' needs a CUDA GPU"),
])
@pytest.mark.bad_input
def test_bad_config_is_refused_before_launch(ws: Workspace, tmp_path: Path, yaml_text: str, expected: str) -> None:
    cfg = tmp_path / "bad.yaml"
    cfg.write_text(yaml_text, encoding="utf-8")
    done = cli("--workspace", str(ws.root), "train", str(cfg), "--preset", "demo")
    assert done.returncode == 2 and expected in done.stderr, done.stderr
    assert "Traceback" not in done.stderr and not list(ws.runs_dir.glob("*"))


@pytest.mark.bad_input
def test_same_output_name_twice_and_resume_without_checkpoint_are_refused(ws: Workspace, tmp_path: Path) -> None:
    cfg = tmp_path / "c.yaml"
    cfg.write_text("run_name: once\nmax_steps: 2\nworst_rows: 0\n", encoding="utf-8")
    assert cli("--workspace", str(ws.root), "train", str(cfg), "--preset", "demo").returncode == 0
    again = cli("--workspace", str(ws.root), "train", str(cfg), "--preset", "demo")
    assert again.returncode == 2 and "a run named 'once' already exists" in again.stderr
    finished = cli("--workspace", str(ws.root), "runs", "resume", "once")
    assert finished.returncode == 2 and "only an aborted or failed run can be resumed" in finished.stderr
    # a run that died before its first checkpoint
    crashed = runs.create_run(ws, presets.from_preset("demo", {"run_name": "early"})[0], "demo")
    runs.update_status(crashed, state="failed", error="RuntimeError: boom")
    none = cli("--workspace", str(ws.root), "runs", "resume", "early")
    assert none.returncode == 2 and "Run 'early' has no checkpoint to resume from" in none.stderr
    shown = cli("--workspace", str(ws.root), "runs", "show", "once", "--config")
    assert "run_name: once" in shown.stdout and "max_steps: 2" in shown.stdout
    deleted = cli("--workspace", str(ws.root), "runs", "delete", "once")
    assert deleted.returncode == 0 and not (ws.runs_dir / "once").exists()


@pytest.mark.bad_input
def test_worker_exception_mid_run_fails_with_its_reason(ws: Workspace) -> None:
    cfg, _ = presets.from_preset("demo", {"max_steps": 12, "save_steps": 4, "run_name": "blocked"})
    run_dir = runs.create_run(ws, cfg, "demo")
    (run_dir / "checkpoint-8").write_text("a file where the second checkpoint folder goes", encoding="utf-8")
    dispatch(ws)
    assert wait_for(lambda: runs.run_status(run_dir)["state"] == "failed", timeout=90)
    status = runs.run_status(run_dir)
    assert status["error"].startswith(("FileExistsError", "NotADirectoryError")), status["error"]
    assert (run_dir / "checkpoint-4" / "trainer_state.json").exists()


@pytest.mark.bad_input
def test_disk_full_while_saving_fails_with_that_reason_and_keeps_earlier_checkpoints(ws: Workspace) -> None:
    cfg, _ = presets.from_preset("demo", {"max_steps": 12, "save_steps": 4, "save_total_limit": 5,
                                          "run_name": "full"})
    run_dir = runs.create_run(ws, cfg, "demo")
    (run_dir / "checkpoint-8").mkdir()
    (run_dir / "checkpoint-8" / "trainer_state.json").symlink_to("/dev/full")  # a write there: ENOSPC
    dispatch(ws)
    assert wait_for(lambda: runs.run_status(run_dir)["state"] == "failed", timeout=90)
    status = runs.run_status(run_dir)
    assert "The disk is full" in status["error"] and status["error_key"] == "run.disk_full", status["error"]
    assert [p.name for p in checkpoints(run_dir)] == ["checkpoint-4"]  # intact; the cut one is not offered
    resumed = runs.resume(ws, "full")
    assert resumed.status["resume_from"] == "checkpoint-4"
    runs.abort(ws, "full")


def test_config_show_and_compare(ws: Workspace, tmp_path: Path) -> None:
    shown = cli("config", "show", "--preset", "lora")
    assert shown.returncode == 0 and "learning_rate: 0.0001" in shown.stdout and "cutoff_len: 0" in shown.stdout
    for name, lr in (("x", "5.0e-3"), ("y", "1.0e-3")):
        cfg = tmp_path / f"{name}.yaml"
        cfg.write_text(f"run_name: {name}\nmax_steps: 3\nlogging_steps: 1\nlearning_rate: {lr}\nworst_rows: 0\n",
                       encoding="utf-8")
        assert cli("--workspace", str(ws.root), "train", str(cfg), "--preset", "demo").returncode == 0
    compared = json.loads(cli("--workspace", str(ws.root), "runs", "compare", "x", "y").stdout)
    assert compared["differences"] == {"learning_rate": [0.005, 0.001], "run_name": ["x", "y"]}
    assert all(r["state"] == "finished" and r["last_loss"] for r in compared["runs"])


def test_a_run_outlives_the_process_that_started_it(ws: Workspace, tmp_path: Path) -> None:
    """What a stopped UI server leaves behind: the run goes on in its own session and a new reader sees it."""
    cfg = tmp_path / "d.yaml"
    cfg.write_text("run_name: detached\nmax_steps: 30\nlogging_steps: 5\nworst_rows: 0\n", encoding="utf-8")
    started = cli("--workspace", str(ws.root), "train", str(cfg), "--preset", "demo", "--detach")
    assert started.returncode == 0 and "run detached:" in started.stdout  # the starter has exited
    run_dir = ws.runs_dir / "detached"
    assert wait_for(lambda: runs.run_status(run_dir)["state"] == "finished", timeout=90)
    assert max(_steps(run_dir)) == 30 and (run_dir / "adapter" / "adapter_config.json").exists()
