"""Faults that must lose nothing: kill -9 at a random step resumes to the very losses of an uninterrupted run;
a kill in the middle of writing a checkpoint never leaves that checkpoint to be resumed from."""

from __future__ import annotations

import json
import os
import random
import signal
import time
from pathlib import Path

import pytest

from studio.core import presets
from studio.core.rundir import checkpoints, read_metrics
from studio.core.workspace import Workspace
from studio.runs import manage as runs

from .helpers import wait_for

pytestmark = pytest.mark.integration
SHORT = {"max_steps": 40, "logging_steps": 1, "save_steps": 5, "save_total_limit": 3, "eval_steps": 10,
         "worst_rows": 0}


def _losses(run_dir: Path) -> dict[tuple[str, int], float]:
    out = {}
    for m in read_metrics(run_dir)[0]:
        for key in ("loss", "eval_loss"):
            if key in m:
                out[(key, m["step"])] = m[key]
    return out


def _finish(run_dir: Path, timeout: float = 120) -> dict:
    assert wait_for(lambda: runs.run_status(run_dir)["state"] not in ("queued", "running"), timeout=timeout)
    return runs.run_status(run_dir)


def test_kill_9_at_a_random_step_resumes_to_the_uninterrupted_losses(ws: Workspace) -> None:
    cfg, _ = presets.from_preset("demo", {**SHORT, "run_name": "whole"})
    whole = runs.start(ws, cfg, "demo")
    assert _finish(whole)["state"] == "finished"

    kill_at = random.Random(time.time_ns()).randint(7, 33)  # any step: between checkpoints, on one, past an epoch
    cfg, _ = presets.from_preset("demo", {**SHORT, "run_name": "cut"})
    cut = runs.start(ws, cfg, "demo")
    assert wait_for(lambda: max((s for _, s in _losses(cut)), default=0) >= kill_at, timeout=90, every=0.01)
    os.killpg(runs.run_status(cut)["pid"], signal.SIGKILL)
    killed = time.monotonic()
    assert wait_for(lambda: runs.run_status(cut)["state"] == "failed", timeout=3), f"killed at step {kill_at}"
    assert time.monotonic() - killed < 3

    runs.resume(ws, "cut")
    assert _finish(cut)["state"] == "finished"
    steps = [m["step"] for m in read_metrics(cut)[0] if "loss" in m]
    assert steps == list(range(1, 41)), f"killed at step {kill_at}"  # every step exactly once
    expected, got = _losses(whole), _losses(cut)
    assert got.keys() == expected.keys()
    worst = max(abs(expected[k] - got[k]) for k in expected)
    # data order, dropout RNG, optimizer and scheduler state all come back, not just the weights
    assert worst < 1e-4, f"killed at step {kill_at}: largest loss difference {worst:.2e}"
    from peft import PeftModel
    from transformers import AutoModelForCausalLM

    base = AutoModelForCausalLM.from_pretrained(ws.root / "models" / "demo-tiny")
    PeftModel.from_pretrained(base, cut / "adapter")


def _half_written(run_dir: Path) -> Path | None:
    """A checkpoint folder the Trainer is still writing: weights may be there, trainer_state.json is not yet."""
    for entry in os.scandir(run_dir):
        if entry.name.startswith("checkpoint-") and not os.path.exists(os.path.join(entry.path, "trainer_state.json")):
            return Path(entry.path)
    return None


@pytest.mark.parametrize("sig", [signal.SIGKILL, signal.SIGTERM])
def test_a_signal_while_a_checkpoint_is_written_never_leaves_it_to_resume_from(ws: Workspace, sig: int) -> None:
    cfg, _ = presets.from_preset("demo", {"num_train_epochs": 500, "save_steps": 2, "save_total_limit": 100,
                                          "logging_steps": 1, "worst_rows": 0, "run_name": "saving"})
    run_dir = runs.start(ws, cfg, "demo")
    caught = None
    deadline = time.monotonic() + 90
    assert wait_for(lambda: len(checkpoints(run_dir)) >= 2, timeout=90)
    while caught is None and time.monotonic() < deadline:  # watch for the moment a later save is under way
        caught = _half_written(run_dir)
        if caught is None:
            time.sleep(0.0005)
    assert caught is not None, "no checkpoint was caught mid-write"
    os.killpg(runs.run_status(run_dir)["pid"], sig)
    assert _finish(run_dir, timeout=60)["state"] in ("failed", "aborted")
    complete = checkpoints(run_dir)
    for folder in complete:  # every checkpoint offered for resume is whole
        state = json.loads((folder / "trainer_state.json").read_text())
        assert state["global_step"] == int(folder.name.split("-")[1])
        assert (folder / "adapter_model.safetensors").exists() and (folder / "optimizer.pt").exists()
    if sig == signal.SIGKILL and not (caught / "trainer_state.json").exists():
        assert caught not in complete  # the cut-short save is skipped
    resumed = runs.resume(ws, "saving")
    assert f"checkpoint-{int(complete[-1].name.split('-')[1])}" in (run_dir / "command.txt").read_text()
    assert wait_for(lambda: runs.run_status(run_dir)["state"] == "running", timeout=30)
    runs.abort(ws, resumed.run_id, wait=True)
