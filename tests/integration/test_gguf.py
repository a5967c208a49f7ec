"""GGUF export of a trained run, end to end through the command line: the GGUF generates what the merged
Hugging Face folder generates (f16: the same greedy tokens; q8_0: the same top-1 token at ≥95% of positions);
the language part of the vision demo reads back as a plain Qwen2; a full disk is one sentence, nothing left."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
import torch
from transformers import AutoModelForCausalLM, AutoTokenizer

from studio.core.workspace import Workspace
from studio.data.conversation import Conversation, Turn
from studio.encode.encoder import Encoder, Options
from studio.templates.named import get_template

from .helpers import ROOT, cli, demo_run

pytestmark = pytest.mark.integration
PROMPTS = ["你是谁？", "Who are you?", "What is 3+4?", "Repeat after me: red 红色"]


@pytest.fixture(scope="module")
def trained(tmp_path_factory: pytest.TempPathFactory, demo_model: Path) -> Iterator[Workspace]:
    yield demo_run(tmp_path_factory.mktemp("gguf") / "workspace", demo_model,
                   "run_name: ident\nmax_steps: 120\nworst_rows: 0\n")


def _greedy(model, tokenizer, prompt: str) -> list[int]:
    ids = Encoder(get_template("chatml"), tokenizer, Options(cutoff_len=512)).prompt_ids(
        Conversation(turns=(Turn("user", prompt),)))
    out = model.generate(torch.tensor([ids]), max_new_tokens=24, do_sample=False,
                         eos_token_id=tokenizer.convert_tokens_to_ids("<|im_end|>"))
    return out[0, len(ids):].tolist()


def test_a_runs_gguf_generates_what_its_merged_folder_generates(trained: Workspace) -> None:
    ws = str(trained.root)
    merged = cli("--workspace", ws, "export", "--run", "ident", "--merge", "--out", "exports/merged")
    assert merged.returncode == 0, merged.stderr[-2000:]
    f16 = cli("--workspace", ws, "export", "--run", "ident", "--gguf", "f16", "--out", "exports/ident-f16")
    assert f16.returncode == 0, f16.stderr[-2000:]
    assert "ollama create ident-f16 -f Modelfile" in f16.stdout and "MiB" in f16.stderr
    q8 = cli("--workspace", ws, "export", "--run", "ident", "--gguf", "q8_0", "--out", "exports/ident-q8_0")
    assert q8.returncode == 0, q8.stderr[-2000:]
    folder = trained.root / "exports"
    tokenizer = AutoTokenizer.from_pretrained(folder / "merged")
    reference = AutoModelForCausalLM.from_pretrained(folder / "merged", dtype=torch.float32)
    as_f16 = AutoModelForCausalLM.from_pretrained(folder / "ident-f16", gguf_file="ident-f16.gguf",
                                                  dtype=torch.float32)
    answers = {p: _greedy(reference, tokenizer, p) for p in PROMPTS}
    assert any(tokenizer.decode(a).startswith("我是") for a in answers.values())  # the tuned identity
    assert {p: _greedy(as_f16, tokenizer, p) for p in PROMPTS} == answers
    as_q8 = AutoModelForCausalLM.from_pretrained(folder / "ident-q8_0", gguf_file="ident-q8_0.gguf",
                                                 dtype=torch.float32)
    text = "".join(f"<|im_start|>user\n{p}<|im_end|>\n<|im_start|>assistant\n{tokenizer.decode(answers[p])}\n"
                   for p in PROMPTS) * 4
    ids = torch.tensor([tokenizer(text)["input_ids"][:400]])
    with torch.no_grad():
        agree = (reference(ids).logits.argmax(-1) == as_q8(ids).logits.argmax(-1)).float().mean().item()
    assert ids.shape[1] >= 300 and agree >= 0.95, agree
    sizes = {k: (folder / f"ident-{k}" / f"ident-{k}.gguf").stat().st_size for k in ("f16", "q8_0")}
    assert sizes["q8_0"] < sizes["f16"] < (folder / "merged" / "model.safetensors").stat().st_size


def test_the_vision_demos_language_part_reads_back_as_qwen2(tmp_path: Path, vision_model: Path) -> None:
    done = cli("--workspace", str(tmp_path / "ws"), "export", "--model", str(vision_model), "--template", "qwen2_vl",
               "--gguf", "f16", "--out", str(tmp_path / "vl"))
    assert done.returncode == 0, done.stderr[-2000:]
    from transformers import AutoModelForImageTextToText

    vl = AutoModelForImageTextToText.from_pretrained(vision_model, dtype=torch.float32)
    text = AutoModelForCausalLM.from_pretrained(tmp_path / "vl", gguf_file="vl-f16.gguf", dtype=torch.float32)
    assert type(text).__name__ == "Qwen2ForCausalLM"
    ids = AutoTokenizer.from_pretrained(vision_model)("What colour is the sky? 天空", return_tensors="pt").input_ids
    with torch.no_grad():
        want = vl(input_ids=ids).logits
        got = text(input_ids=ids).logits
    assert torch.allclose(want, got, atol=2e-2), (want - got).abs().max()  # f16 weights, no image: plain rotary
    assert (want.argmax(-1) == got.argmax(-1)).all()


def _in_small_disk(ws: Workspace, size: str, *args: str) -> subprocess.CompletedProcess[str]:
    """The CLI with the workspace's exports/ on a tmpfs of `size`, in a mount namespace of its own (a real
    ENOSPC from the kernel, nothing mounted outside the namespace)."""
    exports = ws.root / "exports"
    exports.mkdir(exist_ok=True)
    script = 'mount -t tmpfs -o size="$1" none "$2" && shift 2 && exec "$@"'
    command = ["unshare", "-rm", "sh", "-c", script, "sh", size, str(exports), sys.executable, "-m", "studio",
               "--workspace", str(ws.root), *args]
    return subprocess.run(command, cwd=ROOT, capture_output=True, text=True, timeout=240, stdin=subprocess.DEVNULL,
                          env={**__import__("os").environ, "PYTHONPATH": str(ROOT)})


def test_a_full_disk_is_said_and_leaves_nothing(trained: Workspace) -> None:
    done = _in_small_disk(trained, "1m", "export", "--run", "ident", "--gguf", "f16", "--out", "exports/full")
    assert done.returncode == 2 and "Traceback" not in done.stderr, done.stderr[-2000:]
    assert "Not enough disk space in" in done.stderr and "Nothing was written." in done.stderr
    done = _in_small_disk(trained, "1m", "export", "--run", "ident", "--merge", "--out", "exports/full")
    assert done.returncode == 2 and "Traceback" not in done.stderr, done.stderr[-2000:]
    assert "filled up while exporting" in done.stderr and "the partial export was removed" in done.stderr
    assert not any(p.name.startswith((".full", "full")) for p in (trained.root / "exports").iterdir())
