"""Chat and export on a real trained run: the base side of Compare is the plain base model, a merged export
generates what base + adapter generates, and every bad input is one sentence with nothing overwritten."""

from __future__ import annotations

import json
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

from studio.core.errors import StudioError
from studio.core.workspace import Workspace
from studio.serve import chat
from studio.serve import targets as chat_targets
from studio.train.demo import DEMO_MODEL

from .helpers import cli, demo_run

pytestmark = pytest.mark.integration
PROMPT = [{"role": "user", "content": "你是谁？"}]
GREEDY = chat.GenSettings(max_new_tokens=40)


@pytest.fixture(scope="module")
def trained(tmp_path_factory: pytest.TempPathFactory, demo_model: Path) -> Iterator[Workspace]:
    """One workspace with a LoRA run (two checkpoints and final weights) shared by this module's tests."""
    yield demo_run(tmp_path_factory.mktemp("chat") / "workspace", demo_model,
                   "run_name: ident\nmax_steps: 160\nsave_steps: 80\nsave_total_limit: 2\nworst_rows: 0\n")
    chat.unload()


def test_compare_base_side_is_the_plain_base_model(trained: Workspace) -> None:
    target = chat_targets.run_target(trained, "ident")
    cm = chat.load(target)
    base_side = chat.reply(cm, PROMPT, GREEDY, side="base")
    tuned = chat.reply(cm, PROMPT, GREEDY)
    assert "微调工作室" in tuned and base_side != tuned
    plain = chat.load(chat_targets.model_target(trained, str(trained.root / DEMO_MODEL)))
    assert chat.reply(plain, PROMPT, GREEDY) == base_side  # the adapter was really off
    assert chat.reply(cm, PROMPT, GREEDY) == tuned  # and back on afterwards
    with pytest.raises(StudioError, match="Compare needs tuned weights"):
        chat.reply(plain, PROMPT, GREEDY, side="base")
    sampled = chat.GenSettings(max_new_tokens=20, temperature=1.5, top_k=0, seed=7)
    assert chat.reply(cm, PROMPT, sampled) == chat.reply(cm, PROMPT, sampled)  # a seed repeats a sample


def test_checkpoints_are_offered_and_load(trained: Workspace) -> None:
    assert chat_targets.weight_choices(trained, "ident") == ["final", "checkpoint-160", "checkpoint-80"]
    assert chat_targets.chat_runs(trained) == ["ident"]
    answer = cli("--workspace", str(trained.root), "chat", "--run", "ident", "--checkpoint", "80",
                 "--prompt", "你是谁？", "--compare", "--stats")
    assert answer.returncode == 0, answer.stderr
    base, tuned = answer.stdout.split("[tuned]")
    assert base.startswith("[base]") and tuned.strip() and tuned.strip() != base.removeprefix("[base]").strip()
    assert "Applying the adapter" in answer.stderr and answer.stderr.count("tokens/s") == 2
    assert "Loading weights" not in answer.stderr  # progress in sentences, no bars


def test_merged_export_generates_what_base_plus_adapter_generates(trained: Workspace, tmp_path: Path) -> None:
    out = tmp_path / "merged"
    done = cli("--workspace", str(trained.root), "export", "--run", "ident", "--out", str(out), "--merge",
               "--max-shard-size", "1MB")
    assert done.returncode == 0, done.stderr
    assert f"vllm serve {out} --served-model-name merged" in done.stdout and "OpenAI(" in done.stdout
    shards = sorted(out.glob("model-*.safetensors"))
    assert len(shards) >= 2 and (out / "model.safetensors.index.json").exists()
    assert "<|im_start|>" in json.loads((out / "tokenizer_config.json").read_text()).get("chat_template", "") \
        or "<|im_start|>" in (out / "chat_template.jinja").read_text()
    generation = json.loads((out / "generation_config.json").read_text())
    assert len(generation["eos_token_id"]) >= 1 and not list(out.parent.glob(".merged.partial-*"))
    import torch
    from peft import PeftModel
    from transformers import AutoModelForCausalLM, AutoTokenizer

    tok = AutoTokenizer.from_pretrained(out)
    ids = tok.apply_chat_template(PROMPT, add_generation_prompt=True, return_tensors="pt", return_dict=True)
    merged = AutoModelForCausalLM.from_pretrained(out)
    tuned = PeftModel.from_pretrained(AutoModelForCausalLM.from_pretrained(trained.root / DEMO_MODEL),
                                      trained.runs_dir / "ident" / "adapter")
    with torch.inference_mode():
        a = merged.generate(**ids, max_new_tokens=30, do_sample=False)
        b = tuned.generate(**ids, max_new_tokens=30, do_sample=False)
    assert a.tolist() == b.tolist()
    assert "微调工作室" in tok.decode(a[0, ids["input_ids"].shape[1]:], skip_special_tokens=True)
    by_run = cli("--workspace", str(trained.root), "chat", "--run", "ident", "--prompt", "你是谁？")
    by_export = cli("--workspace", str(trained.root), "chat", "--model", str(out), "--prompt", "你是谁？")
    assert by_run.stdout == by_export.stdout and by_run.stdout.strip()


def test_adapter_export_and_overwrite_rules(trained: Workspace, tmp_path: Path) -> None:
    out = tmp_path / "adapter"
    done = cli("--workspace", str(trained.root), "export", "--run", "ident", "--checkpoint", "80", "--out", str(out))
    assert done.returncode == 0, done.stderr
    assert {"adapter_config.json", "adapter_model.safetensors", "tokenizer.json", "README.md"} <= \
        {p.name for p in out.iterdir()}
    assert "--enable-lora --lora-modules adapter=" in done.stdout
    stamp = (out / "adapter_model.safetensors").stat().st_mtime_ns
    again = cli("--workspace", str(trained.root), "export", "--run", "ident", "--out", str(out))
    assert again.returncode == 2 and "exists and is not empty" in again.stderr
    assert (out / "adapter_model.safetensors").stat().st_mtime_ns == stamp  # nothing overwritten
    forced = cli("--workspace", str(trained.root), "export", "--run", "ident", "--out", str(out), "--overwrite")
    assert forced.returncode == 0 and (out / "adapter_model.safetensors").stat().st_mtime_ns != stamp
    a_file = tmp_path / "a-file"
    a_file.write_text("keep me")
    refused = cli("--workspace", str(trained.root), "export", "--run", "ident", "--out", str(a_file))
    assert refused.returncode == 2 and "is a file" in refused.stderr and a_file.read_text() == "keep me"


def _other_model(ws: Workspace) -> Path:
    """A model of another shape with the demo tokenizer: what an adapter must not be applied to."""
    from transformers import LlamaConfig, LlamaForCausalLM

    target = ws.models_dir / "other"
    config = json.loads((ws.root / DEMO_MODEL / "config.json").read_text())
    LlamaForCausalLM(LlamaConfig(vocab_size=config["vocab_size"], hidden_size=64, intermediate_size=96,
                                 num_hidden_layers=2, num_attention_heads=2, num_key_value_heads=2)).save_pretrained(target)
    for name in ("tokenizer.json", "tokenizer_config.json"):
        shutil.copy(ws.root / DEMO_MODEL / name, target / name)
    return target


@pytest.mark.parametrize("args, sentence", [
    (["--model", "models/other", "--adapter", "{ws}/runs/ident/adapter"], "does not fit"),
    (["--model", "models/nowhere", "--adapter", "{ws}/runs/ident/adapter"], "is neither a folder here"),
    (["--run", "ident", "--checkpoint", "999"], "has no checkpoint-999"),
    (["--run", "ident", "--checkpoint", "../x"], "neither 'final' nor a checkpoint-N"),
    (["--run", "ident", "--temperature", "3"], "temperature: 3.0 is outside 0.0 to 2.0"),
    (["--run", "ident", "--top-p", "0"], "top_p: 0.0 is outside 0.01 to 1.0"),
    (["--run", "ident", "--max-new-tokens", "0"], "max_new_tokens: 0 is outside 1 to 8192"),
    (["--run", "nope"], "nope"),
    (["--run", "ident", "--backend", "unsloth"], "unsloth needs the unsloth package and a CUDA GPU"),
])
@pytest.mark.bad_input
def test_bad_chat_inputs_are_one_sentence(trained: Workspace, args: list[str], sentence: str) -> None:
    if not (trained.models_dir / "other").exists():
        _other_model(trained)
    filled = [a.format(ws=trained.root) for a in args]
    done = cli("--workspace", str(trained.root), "chat", *filled, "--prompt", "hi")
    assert done.returncode == 2 and sentence in done.stderr, done.stderr[-1500:]
    assert done.stderr.count("\n") == 1 and "Traceback" not in done.stderr


@pytest.mark.bad_input
def test_missing_base_and_weightless_checkpoint(trained: Workspace, tmp_path: Path) -> None:
    copy = Workspace.at(tmp_path / "ws")
    shutil.copytree(trained.runs_dir / "ident", copy.runs_dir / "ident")
    moved = cli("--workspace", str(copy.root), "chat", "--run", "ident", "--prompt", "hi")
    assert moved.returncode == 2 and "is not found; the adapter" in moved.stderr
    assert f"expects {trained.root / DEMO_MODEL}" in moved.stderr  # names the base it was trained on
    shutil.copytree(trained.root / DEMO_MODEL, copy.root / DEMO_MODEL)
    (copy.runs_dir / "ident" / "checkpoint-80" / "adapter_model.safetensors").unlink()
    empty = cli("--workspace", str(copy.root), "chat", "--run", "ident", "--checkpoint", "80", "--prompt", "hi")
    assert empty.returncode == 2 and "holds no weights: expected adapter_model.safetensors" in empty.stderr
    with pytest.raises(StudioError, match="a model must be a folder under models/"):
        chat_targets.model_target(copy, "../../etc", from_browser=True)
    with pytest.raises(StudioError, match="a model must be a folder under models/"):
        chat_targets.model_target(copy, DEMO_MODEL, adapter="/tmp", from_browser=True)


def test_loading_beside_a_running_run_names_both_memory_figures(trained: Workspace) -> None:
    from studio.core import presets
    from studio.runs import manage as runs
    from studio.serve import memory as chat_memory

    from .helpers import wait_for

    target = chat_targets.run_target(trained, "ident")
    assert chat_memory.memory_note(trained, target) == ""  # nothing runs: nothing to say
    cfg, _ = presets.from_preset("demo", {"num_train_epochs": 500, "save_steps": 100000, "run_name": "busy",
                                          "worst_rows": 0})
    run_dir = runs.start(trained, cfg, "demo")
    try:
        assert wait_for(lambda: (run_dir / "metrics.jsonl").exists(), timeout=90)
        note = chat_memory.memory_note(trained, target)
        held = float(note.split("holds ")[1].split(" GiB")[0])
        assert note.startswith("Run 'busy' is training on this machine's RAM") and held > 0.1  # a real worker's RSS
        assert "this model needs about 0.00 GiB" in note and "GiB are free" in note  # the demo is ~3 MB
        assert "正在本机 RAM 上训练" in chat_memory.memory_note(trained, target, "zh")
    finally:
        runs.abort(trained, "busy", wait=True)
        shutil.rmtree(run_dir, ignore_errors=True)
