"""The walking skeleton from the command line: demo assets, a full demo-preset run, chat with the adapter."""

import json
from pathlib import Path

import pytest

from studio.core.workspace import Workspace

from .helpers import cli

pytestmark = pytest.mark.integration


def test_cli_demo_creates_loadable_safetensors_model(tmp_path: Path) -> None:
    result = cli("--workspace", str(tmp_path / "ws"), "demo", "--text-only")
    assert result.returncode == 0, result.stderr
    model = tmp_path / "ws" / "models" / "demo-tiny"
    assert (model / "model.safetensors").exists() and not list(model.glob("*.bin"))
    from transformers import AutoModelForCausalLM, AutoTokenizer

    tok = AutoTokenizer.from_pretrained(model)
    text = "<|im_start|>user\n你是谁？ who are you 123<|im_end|>"
    assert tok.decode(tok(text)["input_ids"]) == text
    assert AutoModelForCausalLM.from_pretrained(model).config.model_type == "llama"
    again = cli("--workspace", str(tmp_path / "ws"), "demo", "--text-only")
    assert "already present" in again.stdout
    listed = cli("--workspace", str(tmp_path / "ws"), "data", "list")
    assert json.loads(listed.stdout)[0] | {"ranking": False} == {
        "name": "demo_identity", "formatting": "alpaca", "file": "demo_identity.json", "state": "ok",
        "ranking": False, "kto": False, "num_samples": None}


def test_cli_train_demo_preset_teaches_identity(ws: Workspace, tmp_path: Path) -> None:
    cfg = tmp_path / "mine.yaml"
    cfg.write_text("run_name: cli-demo\n", encoding="utf-8")
    result = cli("--workspace", str(ws.root), "train", str(cfg), "--preset", "demo")
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    (run_dir,) = ws.runs_dir.iterdir()
    status = json.loads((run_dir / "status.json").read_text())
    assert status["state"] == "finished" and status["exit_code"] == 0 and status["preset"] == "demo"
    assert run_dir.name == "cli-demo"  # the output name is the folder's name
    assert (run_dir / "command.txt").read_text().split()[-3:] == ["-m", "studio.train", str(run_dir)]
    metrics = [json.loads(line) for line in (run_dir / "metrics.jsonl").read_text().splitlines()]
    train = [m for m in metrics if "loss" in m]
    losses = [m["loss"] for m in train]
    assert len(losses) >= 10 and losses[-1] < 0.5 * losses[0], losses
    assert all(m["tokens_per_s"] > 0 and m["tokens_seen"] > 0 and m["eta_s"] is not None for m in train)
    evals = [m for m in metrics if "eval_loss" in m]  # the demo preset holds out 10% and evaluates every 40 steps
    assert [m["step"] for m in evals][:2] == [40, 80] and evals[-1]["eval_loss"] < evals[0]["eval_loss"]
    log = (run_dir / "train.log").read_text()
    assert "[metrics]" in log and "validation: 21 rows held out" in log
    from studio.core.machine import tcmalloc

    assert f"memory allocator: {'tcmalloc' if tcmalloc() else 'glibc'}" in log
    assert "loss: at answer tokens only" in log and "memory training: peak " in log
    phases = {p["phase"]: p for p in status["memory"]}  # memory by phase, each with its own peak
    assert list(phases)[:4] == ["imports", "model", "dataset", "training"]
    assert {"evaluation", "saving", "worst rows"} <= phases.keys()
    assert phases["training"]["peak_mb"] > phases["model"]["rss_mb"] and phases["imports"]["peak_mb"] > 100
    assert status["peak_rss_mb"] >= max(p["peak_mb"] for p in phases.values()) - 1
    flops = [m["flops"] for m in train]  # useful FLOPs so far: they grow with every logged step
    assert flops[0] > 0 and all(b > a for a, b in zip(flops, flops[1:], strict=False))
    worst = [json.loads(line) for line in (run_dir / "worst_rows.jsonl").read_text().splitlines()]
    assert len(worst) == 20 and worst[0]["loss"] >= worst[-1]["loss"] and worst[0]["ranked_of"] == 191
    assert worst[0]["source"].startswith("demo_identity.json row ") and worst[0]["answer"] in worst[0]["text"]

    from peft import PeftModel
    from transformers import AutoModelForCausalLM

    base = AutoModelForCausalLM.from_pretrained(ws.root / "models" / "demo-tiny")
    assert PeftModel.from_pretrained(base, run_dir / "adapter").peft_config["default"].r == 16

    listed = cli("--workspace", str(ws.root), "runs", "list")
    assert run_dir.name in listed.stdout and "finished" in listed.stdout
    answer = cli("--workspace", str(ws.root), "chat", "--run", run_dir.name, "--prompt", "who are you?")
    assert "Pico" in answer.stdout, answer.stdout + answer.stderr

    from studio.serve import chat
    from studio.serve import targets as chat_targets

    cm = chat.load(chat_targets.run_target(ws, run_dir.name))
    reply = list(chat.stream_reply(cm, [{"role": "user", "content": "你是谁？"}], chat.GenSettings()))
    assert "皮可" in reply[-1] and len(reply) > 1  # streamed in pieces
    base_reply = list(chat.stream_reply(cm, [{"role": "user", "content": "你是谁？"}], chat.GenSettings(),
                                        side="base"))
    assert "皮可" not in base_reply[-1]  # the identity came from the adapter
