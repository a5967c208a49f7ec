"""Packing keeps examples apart (same loss as one by one), and the tokenized cache is reused."""

from pathlib import Path

import torch

from studio.core.workspace import Workspace
from studio.encode.cache import cached_dataset
from studio.encode.encoder import IGNORE, Encoded, Encoder, Options, pad_batch
from studio.encode.packing import efficiency, knapsacks, pack
from studio.templates.named import get_template
from studio.train.demo import DEMO_DATASET


def test_knapsacks_fill_rows_without_exceeding_the_capacity() -> None:
    lengths = [5, 9, 3, 7, 2, 8, 1, 10]
    bins = knapsacks(lengths, 10)
    assert sorted(i for b in bins for i in b) == list(range(len(lengths)))
    assert all(sum(lengths[i] for i in b) <= 10 for b in bins)
    assert len(bins) == 5  # 45 tokens in rows of 10


def test_packed_loss_equals_token_weighted_loss_of_the_examples_one_by_one(ws: Workspace) -> None:
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from studio.data.load import load_dataset

    model_dir = ws.root / "models" / "demo-tiny"
    tok = AutoTokenizer.from_pretrained(model_dir)
    model = AutoModelForCausalLM.from_pretrained(model_dir, dtype=torch.float32)
    model.config.use_cache = False
    model.eval()
    convs = load_dataset(ws.registry_file, DEMO_DATASET).conversations[:6]
    rows = [{"input_ids": e.input_ids, "labels": e.labels}
            for e in Encoder(get_template("chatml"), tok, Options(256, train_on_prompt=True)).encode_many(convs)
            if isinstance(e, Encoded)]
    total_loss, total_tokens = 0.0, 0
    with torch.no_grad():
        for r in rows:  # one by one: the loss of each, weighted by its predicted tokens
            out = model(input_ids=torch.tensor([r["input_ids"]]), labels=torch.tensor([r["labels"]]), use_cache=False)
            n = sum(label != IGNORE for label in r["labels"][1:])
            total_loss += out.loss.item() * n
            total_tokens += n
        packed = pack(rows, capacity=sum(len(r["input_ids"]) for r in rows))
        assert len(packed) == 1 and packed[0]["position_ids"].count(0) == len(rows)
        batch = {k: torch.tensor(v) for k, v in pad_batch(packed, tok.pad_token_id).items()}
        out = model(**batch, use_cache=False)
    assert abs(out.loss.item() - total_loss / total_tokens) < 1e-4


def test_packing_efficiency_counts_real_tokens_over_computed_ones() -> None:
    rows = [{"input_ids": [1] * n, "labels": [1] * n} for n in (10, 2, 6, 2)]
    assert efficiency([rows[:2], rows[2:]]) == 20 / 32
    packed = pack(rows, 10)
    assert efficiency([packed]) == 1.0 and len(packed) == 2


def test_second_encoding_with_the_same_inputs_comes_from_the_cache(ws: Workspace, tmp_path: Path) -> None:
    from studio.model.info import load_tokenizer

    model = ws.root / "models" / "demo-tiny"
    tok = load_tokenizer(model)
    args = (ws.registry_file, DEMO_DATASET, tok, model, "chatml")
    first, s1 = cached_dataset(tmp_path / "cache", *args, Options(1024))
    second, s2 = cached_dataset(tmp_path / "cache", *args, Options(1024))
    assert not s1.cached and s2.cached and s1.kept == s2.kept == len(second)
    assert first["input_ids"] == second["input_ids"] and first["labels"] == second["labels"]
    _, s3 = cached_dataset(tmp_path / "cache", *args, Options(512))
    assert not s3.cached  # another cutoff is another key
    assert len(list((tmp_path / "cache" / "tokenized").iterdir())) == 2
