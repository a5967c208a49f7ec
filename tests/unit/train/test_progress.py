"""Trainer events -> metrics lines and status fields, driven with a real TrainerState: training lines carry
throughput and ETA, evaluation lines do not, a resumed run counts its ETA from where it resumed, rank > 0 writes
nothing."""

from __future__ import annotations

from pathlib import Path

from transformers import TrainerState

from studio.core.rundir import read_metrics, read_status
from studio.train.progress import MetricsCallback


def _state(step: int, tokens: int, zero: bool = True) -> TrainerState:
    return TrainerState(global_step=step, max_steps=10, epoch=step / 10, num_input_tokens_seen=tokens,
                        is_world_process_zero=zero)


def test_metrics_lines_and_status_from_trainer_events(tmp_path: Path) -> None:
    cb = MetricsCallback(tmp_path, status_every_s=0.0, extra=lambda: {"packing_efficiency": 0.9})
    cb.on_train_begin(None, _state(4, 400), None)  # resumed at step 4
    assert read_status(tmp_path)["step"] == 4
    cb.on_step_end(None, _state(5, 500), None)
    cb.on_log(None, _state(5, 500), None, logs={"loss": 1.5, "learning_rate": 1e-4, "grad_norm": 0.3})
    cb.on_log(None, _state(5, 500), None, logs={"eval_loss": 1.7})
    cb.on_log(None, _state(5, 500), None, logs={"train_runtime": 1.0})  # neither loss: no line
    rows, _ = read_metrics(tmp_path)
    assert [set(r) >= {"step", "loss", "lr", "grad_norm", "tokens_per_s", "eta_s", "packing_efficiency"}
            for r in rows[:1]] == [True]
    assert rows[0]["tokens_seen"] == 500 and rows[0]["eta_s"] is not None and rows[0]["eta_s"] >= 0
    assert rows[1]["eval_loss"] == 1.7 and "tokens_per_s" not in rows[1] and len(rows) == 2
    status = read_status(tmp_path)
    assert status["step"] == 5 and status["max_steps"] == 10 and status["eta_s"] is not None
    cb.on_train_end(None, _state(10, 1000), None)
    assert read_status(tmp_path)["eta_s"] == 0.0


def test_only_rank_zero_writes(tmp_path: Path) -> None:
    cb = MetricsCallback(tmp_path, status_every_s=0.0)
    cb.on_train_begin(None, _state(0, 0, zero=False), None)
    cb.on_log(None, _state(1, 10, zero=False), None, logs={"loss": 2.0})
    assert read_metrics(tmp_path)[0] == [] and not (tmp_path / "status.json").exists()
