"""report_to: a real run logs to TensorBoard the same loss per step that metrics.jsonl (the Runs tab's source)
holds; credentials in the environment reach no file of the run; a tracker that is not installed is refused with
one sentence before anything starts."""

from __future__ import annotations

import importlib.util
import json
import os

import pytest

from studio.core.rundir import read_metrics
from studio.core.workspace import Workspace

from .helpers import cli

pytestmark = pytest.mark.integration
SECRET = "hf_PLANTEDsecret0123456789"


def test_tensorboard_gets_the_loss_metrics_jsonl_has(ws: Workspace, monkeypatch: pytest.MonkeyPatch) -> None:
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    for name in ("WANDB_API_KEY", "HF_TOKEN", "SWANLAB_API_KEY", "MLFLOW_TRACKING_PASSWORD"):
        monkeypatch.setenv(name, SECRET)  # the worker inherits these; none may be written down
    cfg = ws.root / "tb.yaml"
    cfg.write_text("run_name: tb\nmax_steps: 30\nlogging_steps: 5\nreport_to: tensorboard\nval_size: 0.1\n"
                   "eval_steps: 15\nsave_steps: 15\n", encoding="utf-8")
    done = cli("--workspace", str(ws.root), "train", str(cfg), "--preset", "demo")
    assert done.returncode == 0, done.stderr[-2000:]
    run = ws.root / "runs" / "tb"
    events = list((run / "tracker" / "tensorboard").rglob("events.out.tfevents.*"))
    assert events, sorted(p.relative_to(run) for p in run.rglob("*"))
    acc = EventAccumulator(str(events[0].parent))
    acc.Reload()
    logged = {e.step: e.value for e in acc.Scalars("train/loss")}
    ours = {row["step"]: row["loss"] for row in read_metrics(run)[0] if "loss" in row}
    assert set(logged) == set(ours) and len(ours) == 6
    assert all(abs(logged[s] - ours[s]) <= 1e-6 * max(1.0, abs(ours[s])) for s in ours)
    assert {e.step for e in acc.Scalars("eval/loss")} == {15, 30}
    for path in (p for p in ws.root.rglob("*") if p.is_file()):
        assert SECRET.encode() not in path.read_bytes(), path
    assert json.loads((run / "status.json").read_text(encoding="utf-8"))["state"] == "finished"


def test_a_tracker_that_is_not_installed_is_refused(ws: Workspace) -> None:
    missing = next(t for t in ("wandb", "swanlab", "mlflow", "trackio") if importlib.util.find_spec(t) is None)
    cfg = ws.root / "nt.yaml"
    cfg.write_text(f"run_name: nt\nreport_to: {missing}\n", encoding="utf-8")
    done = cli("--workspace", str(ws.root), "train", str(cfg), "--preset", "demo")
    assert done.returncode == 2 and "Traceback" not in done.stderr
    assert f"report_to: the tracker '{missing}' is not installed here; install it (pip install {missing})" \
        in done.stderr
    assert not (ws.root / "runs" / "nt").exists()
    from studio.ui import form

    assert missing not in form.FORM_CHOICES["report_to"] and "tensorboard" in form.FORM_CHOICES["report_to"]
    assert os.environ.get("HF_HUB_OFFLINE") == "1"
