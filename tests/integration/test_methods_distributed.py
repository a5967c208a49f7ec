"""Two processes (gloo on CPU) train to the end; full / freeze / DoRA+rsLoRA runs; early stopping keeps the best."""

import json
from pathlib import Path

import pytest

from studio.core.rundir import read_metrics
from studio.core.workspace import Workspace

from .helpers import cli

pytestmark = pytest.mark.integration


def _train(ws: Workspace, tmp_path: Path, name: str, yaml_text: str) -> Path:
    cfg = tmp_path / f"{name}.yaml"
    cfg.write_text(f"run_name: {name}\n{yaml_text}", encoding="utf-8")
    done = cli("--workspace", str(ws.root), "train", str(cfg), "--preset", "demo")
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-2000:]
    return ws.runs_dir / name


def test_two_processes_train_the_demo_and_save_a_loadable_adapter(ws: Workspace, tmp_path: Path) -> None:
    run_dir = _train(ws, tmp_path, "ddp", "num_processes: 2\nnum_train_epochs: 2\n")
    command = (run_dir / "command.txt").read_text()
    assert "accelerate.commands.launch --multi_gpu --num_processes 2" in command
    log = (run_dir / "train.log").read_text()
    assert log.count("[studio] training:") == 1  # one voice in the log, not one per process
    assert "encoded in" in log  # a fresh cache: built once by the main process, loaded by the other
    status = json.loads((run_dir / "status.json").read_text())
    assert status["state"] == "finished" and status["max_steps"] == 24  # 191 rows / (8 x 2 processes) x 2 epochs
    from peft import PeftModel
    from transformers import AutoModelForCausalLM

    base = AutoModelForCausalLM.from_pretrained(ws.root / "models" / "demo-tiny")
    assert PeftModel.from_pretrained(base, run_dir / "adapter").peft_config["default"].r == 16


def test_full_freeze_and_dora_runs(ws: Workspace, tmp_path: Path) -> None:
    full = _train(ws, tmp_path, "full", "finetuning_type: full\nlearning_rate: 1.0e-3\nmax_steps: 6\nworst_rows: 3\n")
    assert (full / "model" / "model.safetensors").exists() and not (full / "adapter").exists()
    assert "704,768" not in (full / "train.log").read_text()  # no adapter parameters: the model itself trains
    freeze = _train(ws, tmp_path, "freeze", "finetuning_type: freeze\nfreeze_trainable_layers: 1\nmax_steps: 4\n"
                                            "learning_rate: 1.0e-3\nworst_rows: 0\n")
    assert "freeze: last 1 of 2 layers" in (freeze / "train.log").read_text()
    from transformers import AutoModelForCausalLM

    assert AutoModelForCausalLM.from_pretrained(freeze / "model").config.model_type == "llama"
    dora = _train(ws, tmp_path, "dora", "use_dora: true\nuse_rslora: true\nmax_steps: 4\nworst_rows: 0\n")
    adapter = json.loads((dora / "adapter" / "adapter_config.json").read_text())
    assert adapter["use_dora"] is True and adapter["use_rslora"] is True


def test_early_stopping_stops_and_keeps_the_best_checkpoint(ws: Workspace, tmp_path: Path) -> None:
    # a learning rate this high (4x the demo's) makes the eval loss turn back up within a few epochs
    run_dir = _train(ws, tmp_path, "stop", "learning_rate: 0.02\nnum_train_epochs: 20\neval_steps: 5\nsave_steps: 5\n"
                                           "early_stopping_patience: 2\nsave_total_limit: 1\nworst_rows: 0\n")
    metrics, _ = read_metrics(run_dir)
    evals = [m["eval_loss"] for m in metrics if "eval_loss" in m]
    status = json.loads((run_dir / "status.json").read_text())
    assert status["step"] < 480 and len(evals) >= 3  # stopped long before the 480 steps of 20 epochs
    best = min(evals)
    assert evals[-1] > best and evals[-2] > best  # patience 2: two evaluations without improvement
    assert f"best eval loss {best:.4f}" in (run_dir / "train.log").read_text()


def test_staged_work_runs_on_the_main_process_first(tmp_path: Path) -> None:
    # the shared-cache guarantee itself: rank 1 starts its work only after rank 0 has finished its own
    import os
    import subprocess
    import sys

    script = tmp_path / "staged_probe.py"
    script.write_text(
        "import os, sys, time\n"
        "from studio.encode.cache import staged\n"
        "def work():\n"
        "    with open(sys.argv[1], 'a') as fh:\n"
        "        fh.write(f\"start {os.environ['RANK']}\\n\"); fh.flush(); time.sleep(0.5)\n"
        "        fh.write(f\"end {os.environ['RANK']}\\n\")\n"
        "staged(work)\n", encoding="utf-8")
    order = tmp_path / "order.txt"
    done = subprocess.run([sys.executable, "-m", "torch.distributed.run", "--nproc_per_node", "2",
                           "--master_port", "29533", str(script), str(order)],
                          env={**os.environ, "PYTHONPATH": str(Path(__file__).parents[2])},
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-2000:]
    assert order.read_text().split("\n")[:4] == ["start 0", "end 0", "start 1", "end 1"]
