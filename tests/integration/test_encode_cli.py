"""`data encode` as a user runs it, and a packed run that reuses the tokenized cache of the first."""

import json
from pathlib import Path

import pytest

from studio.core.workspace import Workspace

from .helpers import cli

pytestmark = pytest.mark.integration


def test_encode_writes_ids_and_labels_and_a_summary(ws: Workspace, tmp_path: Path) -> None:
    out = tmp_path / "encoded.jsonl"
    done = cli("--workspace", str(ws.root), "data", "encode", "--dir", str(ws.data_dir), "--dataset", "demo_identity",
               "--model", str(ws.root / "models" / "demo-tiny"), "--template", "chatml", "--cutoff-len", "64",
               "--out", str(out))
    assert done.returncode == 0, done.stderr
    summary = json.loads(done.stderr.strip().splitlines()[-1])
    rows = [json.loads(line) for line in out.read_text().splitlines()]
    assert summary["kept"] == len(rows) == summary["rows"] - sum(summary["dropped"].values()) - summary["unusable"]
    assert summary["template"] == "chatml" and all(len(r["input_ids"]) <= 64 for r in rows)
    from transformers import AutoTokenizer

    tok = AutoTokenizer.from_pretrained(ws.root / "models" / "demo-tiny")
    first = rows[0]
    assert len(first["input_ids"]) == len(first["labels"]) and first["labels"][0] == -100
    trained = tok.decode([i for i, label in zip(first["input_ids"], first["labels"], strict=True) if label != -100])
    assert trained.endswith("<|im_end|>\n") and "<|im_start|>user" not in trained


@pytest.mark.parametrize(("flags", "expected"), [
    (("--template", "vicuna9"), "'vicuna9' is not one of default, empty, alpaca, chatml, qwen, qwen2_vl, qwen3, llama3"),
    (("--template", "auto", "--cutoff-len", "64"), None),  # the demo tokenizer has a chat template: fine
    (("--template", "gemma"), "<start_of_turn>, <end_of_turn>"),
    (("--cutoff-len", "0"), "cutoff_len: 0 is outside the allowed range"),
    (("--cutoff-len", "5000"), "limit of 1024 tokens"),
    (("--mask-history", "--train-on-prompt"), "mask_history and train_on_prompt together"),
])
@pytest.mark.bad_input
def test_encode_refuses_bad_input_with_one_sentence(ws: Workspace, tmp_path: Path, flags: tuple[str, ...],
                                                    expected: str | None) -> None:
    done = cli("--workspace", str(ws.root), "data", "encode", "--dataset", "demo_identity",
               "--out", str(tmp_path / "x.jsonl"), *flags)
    if expected is None:
        assert done.returncode == 0, done.stderr
        return
    assert done.returncode == 2 and expected in done.stdout + done.stderr, done.stdout + done.stderr
    assert "Traceback" not in done.stderr and not (tmp_path / "x.jsonl").exists()


def test_packed_run_reports_efficiency_and_reuses_the_cache(ws: Workspace, tmp_path: Path) -> None:
    cfg = tmp_path / "packed.yaml"
    cfg.write_text("packing: true\nmax_steps: 6\nlogging_steps: 2\ncutoff_len: 256\n", encoding="utf-8")
    for _ in range(2):
        done = cli("--workspace", str(ws.root), "train", str(cfg), "--preset", "demo")
        assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
    first, second = sorted(ws.runs_dir.iterdir())
    assert "encoded in" in (first / "train.log").read_text()
    log = (second / "train.log").read_text()
    assert "(cache;" in log and "packing: 191 examples in" in log
    metrics = [json.loads(line) for line in (second / "metrics.jsonl").read_text().splitlines()]
    assert metrics and all(0.5 < m["packing_efficiency"] <= 1.0 for m in metrics if "loss" in m)
