"""Experiment trackers (report_to): the same metrics the run writes to metrics.jsonl, sent to the tracker a team
already uses. Each tracker's local files go into the run folder; logins stay in the environment, where the
tracker's own client reads them (nothing here reads, copies or logs a credential)."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

TRACKER_DIR = "tracker"  # runs/<id>/tracker/<name>: the tracker's local files


def setup(name: str, run_dir: Path, run_id: str) -> tuple[list[str], list[Any]]:
    """(TrainingArguments.report_to, extra callbacks) for `name`; local folders are set only where the user's
    environment does not already choose them."""
    if name == "none":
        return [], []
    where = run_dir / TRACKER_DIR / name
    where.mkdir(parents=True, exist_ok=True)
    if name == "tensorboard":
        os.environ.setdefault("TENSORBOARD_LOGGING_DIR", str(where))
    elif name == "wandb":
        os.environ.setdefault("WANDB_DIR", str(where))
        os.environ.setdefault("WANDB_NAME", run_id)
    elif name == "mlflow":
        os.environ.setdefault("MLFLOW_TRACKING_URI", where.resolve().as_uri())
        os.environ.setdefault("MLFLOW_RUN_NAME", run_id)
    elif name == "trackio":
        os.environ.setdefault("TRACKIO_DIR", str(where))
    elif name == "swanlab":  # transformers has no SwanLab callback; SwanLab ships one (as LLaMA-Factory uses)
        from swanlab.integration.transformers import SwanLabCallback

        os.environ.setdefault("SWANLAB_LOG_DIR", str(where))
        return [], [SwanLabCallback(experiment_name=run_id, logdir=str(where))]
    return [name], []
