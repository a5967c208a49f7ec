"""Preference training end to end on the demo: DPO teaches the preferred style (reward accuracy and held-out answers),
kill -9 resumes to the very losses of an uninterrupted run, KTO with early stopping, and the stage / dataset refusals."""

from __future__ import annotations

import json
import os
import random
import signal
import time
from pathlib import Path
from typing import Any

import pytest

from studio.core import presets
from studio.core.rundir import read_metrics
from studio.core.workspace import Workspace
from studio.runs import manage as runs
from studio.runs.prepare import prepare
from studio.train.demo_preference import held_out, polite

from .helpers import cli, wait_for

pytestmark = pytest.mark.integration
LOGGED = {"logging_steps": 1, "save_steps": 10, "save_total_limit": 9, "eval_steps": 27}
PAIR_KEYS = ("loss", "eval_loss", "rewards/accuracies", "rewards/margins", "eval_rewards/accuracies")


def _values(run_dir: Path) -> dict[tuple[str, int], float]:
    return {(k, m["step"]): m[k] for m in read_metrics(run_dir)[0] for k in PAIR_KEYS if k in m}


def _finish(run_dir: Path, timeout: float = 180) -> dict:
    assert wait_for(lambda: runs.run_status(run_dir)["state"] not in ("queued", "running"), timeout=timeout)
    return runs.run_status(run_dir)


def _polite_share(ws: Workspace, adapter: Path | None) -> float:
    """Greedy answers to questions no row asks that close the preferred way (the real model, real generate)."""
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    base = ws.root / "models" / "demo-tiny"
    tok = AutoTokenizer.from_pretrained(base)
    model: Any = AutoModelForCausalLM.from_pretrained(base)
    if adapter is not None:
        from peft import PeftModel

        model = PeftModel.from_pretrained(model, adapter)
    model.eval()
    questions = held_out()
    prompts = [tok.apply_chat_template([{"role": "user", "content": q}], add_generation_prompt=True, tokenize=False)
               for q in questions]
    tok.padding_side = "left"
    batch = tok(prompts, return_tensors="pt", padding=True, add_special_tokens=False)
    with torch.no_grad():
        out = model.generate(**batch, max_new_tokens=40, do_sample=False)
    answers = tok.batch_decode(out[:, batch["input_ids"].shape[1]:], skip_special_tokens=True)
    return sum(map(polite, answers)) / len(answers)


def test_demo_dpo_learns_the_preferred_style_and_resumes_after_kill_9(ws: Workspace) -> None:
    cfg, issues = presets.from_preset("demo-dpo", {**LOGGED, "run_name": "whole"})
    assert not issues
    whole = runs.start(ws, cfg, "demo-dpo")
    assert _finish(whole)["state"] == "finished", (whole / "train.log").read_text()[-3000:]
    log = (whole / "train.log").read_text(encoding="utf-8")
    assert "240 pairs used" in log and "reference log-probabilities: 240 rows" in log
    assert (whole / "reference.safetensors").exists() and (whole / "worst_rows.jsonl").exists()
    lines = read_metrics(whole)[0]
    last_eval = [m for m in lines if "eval_rewards/accuracies" in m][-1]
    assert last_eval["eval_rewards/accuracies"] > 0.9 and last_eval["eval_rewards/margins"] > 0
    first = next(m for m in lines if "rewards/accuracies" in m)
    assert first["step"] == 1 and abs(first["rewards/margins"]) < 0.05  # the policy starts as the reference
    assert _polite_share(ws, whole / "adapter") >= 0.8
    assert _polite_share(ws, None) == 0.0  # the untuned model never closes that way

    kill_at = random.Random(time.time_ns()).randint(12, 70)  # between checkpoints, on one, past an epoch
    cfg, _ = presets.from_preset("demo-dpo", {**LOGGED, "run_name": "cut"})
    cut = runs.start(ws, cfg, "demo-dpo")
    assert wait_for(lambda: max((s for _, s in _values(cut)), default=0) >= kill_at, timeout=120, every=0.01)
    os.killpg(runs.run_status(cut)["pid"], signal.SIGKILL)
    assert wait_for(lambda: runs.run_status(cut)["state"] == "failed", timeout=3), f"killed at step {kill_at}"
    runs.resume(ws, "cut")
    assert _finish(cut)["state"] == "finished", f"killed at step {kill_at}"
    steps = [m["step"] for m in read_metrics(cut)[0] if "loss" in m]
    assert steps == list(range(1, 82)), f"killed at step {kill_at}"
    expected, got = _values(whole), _values(cut)
    assert got.keys() == expected.keys()
    worst = max(abs(expected[k] - got[k]) for k in expected)
    assert worst < 1e-4, f"killed at step {kill_at}: largest difference {worst:.2e}"
    if kill_at >= 10:  # a checkpoint existed: the resume read the reference the first start wrote
        assert "reference log-probabilities read from reference.safetensors" in (cut / "train.log").read_text()


def test_kto_after_sft_with_early_stopping_three_way_compare_and_the_stage_refusals(ws: Workspace,
                                                                                     tmp_path: Path) -> None:
    """The usual path: SFT first, then preference training started from its adapter; Compare answers with the
    base, the SFT adapter and the tuned one."""
    cfg, _ = presets.from_preset("demo", {"run_name": "sft", "max_steps": 8, "val_size": 0.0, "worst_rows": 0})
    assert _finish(runs.start(ws, cfg, "demo"))["state"] == "finished"
    assert _polite_share(ws, ws.runs_dir / "sft" / "adapter") == 0.0  # SFT alone does not close politely
    cfg, issues = presets.from_preset("demo-dpo", {
        "stage": "kto", "dataset": "demo_feedback", "run_name": "kto", "adapter_name_or_path": "runs/sft/adapter",
        "max_steps": 16, "eval_steps": 4, "save_steps": 4, "early_stopping_patience": 2, "worst_rows": 5})
    assert not issues
    run_dir = runs.start(ws, cfg, "demo-dpo")
    assert _finish(run_dir)["state"] == "finished", (run_dir / "train.log").read_text()[-3000:]
    lines = read_metrics(run_dir)[0]
    assert any("kl" in m for m in lines) and any("eval_rewards/accuracies" in m for m in lines)
    log = (run_dir / "train.log").read_text()
    assert "best eval loss" in log and "240 answers used" in log and "LoRA continued from runs/sft/adapter" in log
    compared = cli("--workspace", str(ws.root), "chat", "--run", "kto", "--prompt", "What is 2 plus 3?", "--compare",
                   "--max-new-tokens", "12")
    assert compared.returncode == 0, compared.stderr
    assert [line for line in compared.stdout.splitlines() if line.startswith("[")] == ["[base]", "[start]", "[tuned]"]
    # evaluated against the base: on a dataset of single answers (its own held-out rows are judged answers)
    held_out = prepare(ws, {"stage": "eval", "eval_run": "kto"}, source="cli")
    assert next(i.text() for i in held_out.issues if i.level == "error").startswith(
        "eval_dataset: 'kto' trained with stage kto, so its held-out rows are judged answers")
    named = prepare(ws, {"stage": "eval", "eval_run": "kto", "eval_dataset": "demo_identity"}, source="cli")
    assert named.ok, [i.text() for i in named.issues]

    def refusal(values: dict[str, Any]) -> str:
        prepared = prepare(ws, {"run_name": "x", **values})
        return next(i.text() for i in prepared.issues if i.level == "error")

    assert refusal({"stage": "dpo", "dataset": "demo_identity"}).startswith(
        "stage dpo: dataset 'demo_identity' holds no preference pairs; expected an entry with \"ranking\": true and "
        "columns chosen and rejected")
    assert refusal({"stage": "kto", "dataset": "demo_preference"}).startswith(
        "stage kto: dataset 'demo_preference' has no kto_tag column")
    assert refusal({"stage": "sft", "dataset": "demo_feedback"}).startswith(
        "stage sft: dataset 'demo_feedback' tags its answers good or bad (kto_tag)")
    encoded = cli("--workspace", str(ws.root), "data", "encode", "--dataset", "demo_preference", "--model",
                  "models/demo-tiny", "--cutoff-len", "64", "--out", str(tmp_path / "pairs.jsonl"))
    assert encoded.returncode == 0, encoded.stderr
    first = json.loads((tmp_path / "pairs.jsonl").read_text(encoding="utf-8").splitlines()[0])
    assert set(first) == {"chosen_input_ids", "chosen_labels", "rejected_input_ids", "rejected_labels"}
    assert '"kept": 240' in encoded.stderr
    yaml = tmp_path / "sft-on-pairs.yaml"
    yaml.write_text("stage: sft\ndataset: demo_preference\n", encoding="utf-8")
    result = cli("--workspace", str(ws.root), "validate", str(yaml))
    assert result.returncode == 2
    assert ("stage sft: dataset 'demo_preference' holds preference pairs (ranking: a chosen and a rejected answer); "
            "stage sft expects one answer per prompt (columns prompt and response, or messages). Choose stage dpo "
            "to train on the pairs.") in result.stdout + result.stderr
