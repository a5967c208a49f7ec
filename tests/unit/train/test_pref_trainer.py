"""The preference Trainer on a real tiny model: at step 1 the policy is the reference, so sigmoid DPO's loss is ln 2
whatever the gradient accumulation; the reference numbers are reused only for the very rows they were made for."""

import math
from pathlib import Path
from types import SimpleNamespace

import pytest
import torch

from studio.core.config import RunConfig
from studio.core.rundir import read_metrics
from studio.core.workspace import Workspace
from studio.encode.encoder import IGNORE
from studio.train.preference import REFERENCE_FILE, PreferenceCollator, attach_reference, trainer_class
from studio.train.trainer import AbortFlag, Splits, build_trainer


def lora_model():
    from peft import LoraConfig, get_peft_model
    from transformers import LlamaConfig, LlamaForCausalLM

    torch.manual_seed(0)
    base = LlamaForCausalLM(LlamaConfig(vocab_size=97, hidden_size=32, intermediate_size=64, num_hidden_layers=2,
                                        num_attention_heads=4, num_key_value_heads=2, pad_token_id=0))
    return get_peft_model(base, LoraConfig(r=4, lora_alpha=8, target_modules="all-linear"))


def pairs(n: int, seed: int = 1):
    from datasets import Dataset

    rng = torch.Generator().manual_seed(seed)
    columns: dict[str, list] = {k: [] for k in ("chosen_input_ids", "chosen_labels", "rejected_input_ids",
                                                 "rejected_labels", "length", "source")}
    for i in range(n):
        prompt = torch.randint(1, 97, (5,), generator=rng).tolist()
        for side, size in (("chosen", 4 + i % 3), ("rejected", 3 + i % 2)):
            answer = torch.randint(1, 97, (size,), generator=rng).tolist()
            columns[f"{side}_input_ids"].append(prompt + answer)
            columns[f"{side}_labels"].append([IGNORE] * 5 + answer)
        columns["length"].append(max(len(columns["chosen_input_ids"][-1]), len(columns["rejected_input_ids"][-1])))
        columns["source"].append(f"row {i + 1}")
    return Dataset.from_dict(columns)


@pytest.mark.parametrize("accumulation", [1, 4])
def test_first_dpo_loss_is_ln2_whatever_the_accumulation(tmp_path: Path, accumulation: int) -> None:
    cfg = RunConfig(stage="dpo", per_device_train_batch_size=2, gradient_accumulation_steps=accumulation,
                    max_steps=2, logging_steps=1, val_size=0.0, learning_rate=1e-3, save_steps=1000, worst_rows=0)
    ws, run_dir = Workspace.at(tmp_path / "ws"), tmp_path / "run"
    run_dir.mkdir()
    rows = pairs(16)
    collate = PreferenceCollator(0, "dpo")
    trainer = build_trainer(cfg, run_dir, lora_model(), SimpleNamespace(pad_token_id=0), Splits(rows, rows, None),
                            AbortFlag(), collate=collate, trainer_cls=trainer_class())
    attach_reference(cfg, ws, run_dir, trainer, Splits(rows, rows, None), collate)
    trainer.train()
    first, second = [m for m in read_metrics(run_dir)[0] if "loss" in m]
    assert first["loss"] == pytest.approx(math.log(2), abs=1e-4)  # not accumulation x ln 2
    assert first["rewards/margins"] == pytest.approx(0.0, abs=1e-5)
    assert second["rewards/accuracies"] >= 0.0 and first["grad_norm"] > 0


def test_the_reference_file_is_reused_only_for_the_same_rows(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    cfg = RunConfig(stage="dpo", per_device_train_batch_size=2, max_steps=1, val_size=0.0, worst_rows=0)
    ws, run_dir = Workspace.at(tmp_path / "ws"), tmp_path / "run"
    run_dir.mkdir()
    collate = PreferenceCollator(0, "dpo")

    def attach(rows) -> list:
        trainer = build_trainer(cfg, run_dir, lora_model(), SimpleNamespace(pad_token_id=0), Splits(rows, rows, None),
                                AbortFlag(), collate=collate, trainer_cls=trainer_class())
        attach_reference(cfg, ws, run_dir, trainer, Splits(rows, rows, None), collate)
        return trainer.train_dataset["reference"]

    first = attach(pairs(6))
    assert (run_dir / REFERENCE_FILE).exists()
    assert attach(pairs(6)) == first and "read from reference.safetensors" in capsys.readouterr().out
    other = attach(pairs(6, seed=2))  # same count, other rows (an edited file): computed again
    assert other != first and "written for other rows or weights" in capsys.readouterr().out
