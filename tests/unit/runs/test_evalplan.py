"""What an eval job evaluates: the weights in order (base, final, checkpoints by step, each once), and the run's
own settings copied in so its held-out rows are the ones it held out."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

from studio.core import config as cfgmod
from studio.core.config import RunConfig
from studio.core.rundir import update_status
from studio.core.workspace import Workspace
from studio.runs import evalplan


def test_targets_order_and_once() -> None:
    cfg = replace(RunConfig(), stage="eval", eval_run="r", eval_weights="checkpoint-20, final,checkpoint-3,final")
    assert evalplan.targets(cfg) == ["base", "final", "checkpoint-3", "checkpoint-20"]
    assert evalplan.targets(replace(cfg, eval_base=False)) == ["final", "checkpoint-3", "checkpoint-20"]
    folder = replace(RunConfig(), stage="eval", adapter_name_or_path="runs/r/adapter")
    assert evalplan.targets(folder) == ["base", "tuned"]
    assert evalplan.targets(replace(folder, adapter_name_or_path="", eval_base=False)) == ["base"]
    assert evalplan.main_target(["base", "checkpoint-3", "final"]) == "final"
    assert evalplan.main_target(["base", "checkpoint-3"]) == "checkpoint-3"


def test_run_settings_come_in(tmp_path: Path) -> None:
    ws = Workspace.at(tmp_path / "ws")
    (ws.runs_dir / "r").mkdir(parents=True)
    trained = replace(RunConfig(), model_name_or_path="models/m", template="qwen", cutoff_len=333, val_size=0.2,
                      seed=7, dataset="d", train_on_prompt=True)
    (ws.runs_dir / "r" / "config.yaml").write_text(cfgmod.to_yaml(trained), encoding="utf-8")
    update_status(ws.runs_dir / "r", state="finished")  # finished without saving anything
    asked = replace(RunConfig(), stage="eval", eval_run="r", adapter_name_or_path="runs/x/adapter", cutoff_len=64)
    filled = evalplan.fill_from_run(ws, asked)
    assert (filled.model_name_or_path, filled.template, filled.cutoff_len, filled.val_size, filled.seed,
            filled.dataset, filled.train_on_prompt, filled.adapter_name_or_path) == (
        "models/m", "qwen", 333, 0.2, 7, "d", True, "")
    other = evalplan.fill_from_run(ws, replace(asked, eval_dataset="e"))
    assert (other.dataset, other.val_size) == ("e", 0.0)
    issues = evalplan.check(ws, replace(filled, val_size=0.0))
    assert [i.key for i in issues] == ["run.no_adapter", "eval.no_heldout"]
