"""Trainer events -> metrics.jsonl lines and the progress fields of status.json (rank 0 only)."""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from transformers import TrainerCallback

from studio.core.rundir import append_metric, update_status

KEYS = {"loss": "loss", "eval_loss": "eval_loss", "learning_rate": "lr", "grad_norm": "grad_norm"}
# preference runs (studio.train.preference) log these as they come, LLaMA-Factory's names
PREFERENCE_KEYS = ("rewards/", "eval_rewards/", "logps/", "eval_logps/", "kl", "eval_kl")


def _gpu_memory() -> dict[str, float]:
    import torch

    if not torch.cuda.is_available():
        return {}
    return {"gpu_mem_gb": round(torch.cuda.max_memory_allocated() / 2**30, 2),
            "gpu_reserved_gb": round(torch.cuda.memory_reserved() / 2**30, 2)}


class MetricsCallback(TrainerCallback):
    def __init__(self, run_dir: Path, status_every_s: float = 1.0,
                 extra: Callable[[], dict[str, Any]] | None = None, elapsed_offset: float = 0.0) -> None:
        self.run_dir = run_dir
        self.offset = elapsed_offset  # a resumed run's clock continues from its last metrics line
        self.extra = extra  # more fields for each metrics line (e.g. the collator's packing efficiency)
        self.status_every_s = status_every_s
        self.started = time.perf_counter()
        self.last_status = 0.0
        self.first_step = 0
        self.last_tokens = (0, self.started)

    def _eta(self, step: int, max_steps: int) -> float | None:
        done = step - self.first_step
        return (time.perf_counter() - self.started) / done * (max_steps - step) if done > 0 else None

    def on_train_begin(self, args: Any, state: Any, control: Any, **kwargs: Any) -> None:
        self.started = time.perf_counter()
        self.first_step = state.global_step  # not 0 when resumed (the Trainer restores it before this event)
        self.last_tokens = (int(state.num_input_tokens_seen or 0), self.started)
        if state.is_world_process_zero:
            update_status(self.run_dir, step=state.global_step, max_steps=state.max_steps, eta_s=None)

    def on_step_end(self, args: Any, state: Any, control: Any, **kwargs: Any) -> None:
        now = time.perf_counter()
        if state.is_world_process_zero and now - self.last_status >= self.status_every_s:
            self.last_status = now
            update_status(self.run_dir, step=state.global_step, max_steps=state.max_steps,
                          eta_s=self._eta(state.global_step, state.max_steps))

    def on_log(self, args: Any, state: Any, control: Any, logs: dict[str, Any] | None = None,
               **kwargs: Any) -> None:
        if not state.is_world_process_zero or not logs or not (logs.keys() & {"loss", "eval_loss"}):
            return
        now = time.perf_counter()
        tokens = int(state.num_input_tokens_seen or 0)
        record = {"step": state.global_step, "epoch": round(state.epoch or 0.0, 4)}
        record |= {ours: logs[theirs] for theirs, ours in KEYS.items() if theirs in logs}
        record |= {k: round(v, 6) for k, v in logs.items() if k.startswith(PREFERENCE_KEYS) and isinstance(v, float)}
        record |= {"tokens_seen": tokens, "elapsed_s": round(now - self.started + self.offset, 3)}
        if "loss" in logs:  # a training line; an evaluation line has no throughput of its own
            prev_tokens, prev_time = self.last_tokens
            self.last_tokens = (tokens, now)
            record |= {"tokens_per_s": round((tokens - prev_tokens) / max(now - prev_time, 1e-9), 1),
                       "eta_s": self._eta(state.global_step, state.max_steps), "max_steps": state.max_steps}
            record |= self.extra() if self.extra else {}
            record |= {k: v for k, v in _gpu_memory().items() if k not in record}
        else:
            self.last_tokens = (tokens, now)  # the time spent evaluating is not training throughput
        append_metric(self.run_dir, record)
        print("[metrics] " + " ".join(f"{k}={v:.4g}" if isinstance(v, float) else f"{k}={v}"
                                      for k, v in record.items() if v is not None), flush=True)

    def on_save(self, args: Any, state: Any, control: Any, **kwargs: Any) -> None:
        if state.is_world_process_zero:  # a resume point exists from here on: the log says so
            print(f"[studio] checkpoint-{state.global_step} saved", flush=True)

    def on_train_end(self, args: Any, state: Any, control: Any, **kwargs: Any) -> None:
        if state.is_world_process_zero:
            update_status(self.run_dir, step=state.global_step, max_steps=state.max_steps, eta_s=0.0)
