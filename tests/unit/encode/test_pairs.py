"""Preference encoding: LLaMA-Factory's pairwise and feedback (KTO) processors' ids and labels, truncation included
(tests/fixtures/lf_golden_pref.json was written by LLaMA-Factory 0.9.5 itself: bench/lf_golden_pref.py)."""

import json
from pathlib import Path

import pytest
from transformers import AutoTokenizer

from studio.data.conversation import Conversation, Turn
from studio.data.preference import Preference
from studio.encode.encoder import Dropped, Encoder, Options
from studio.encode.pairs import KL_BLOCK, encode_feedback, encode_pairs, infer_seqlen
from studio.templates.named import get_template

FIXTURES = Path(__file__).parents[2] / "fixtures"
CASES = {c["case"]: c for c in json.loads((FIXTURES / "template_cases.json").read_text(encoding="utf-8"))}
GOLDEN = json.loads((FIXTURES / "lf_golden_pref.json").read_text(encoding="utf-8"))
ROLE = {"observation": "tool"}


@pytest.fixture(scope="module")
def tok():
    return AutoTokenizer.from_pretrained(FIXTURES / "multi_tokenizer")


def prompt(case: dict) -> tuple[Conversation, str]:
    """The case's conversation without its last answer, and that answer."""
    turns = tuple(Turn(ROLE.get(m["role"], m["role"]), m["content"]) for m in case["messages"])
    return Conversation(turns=turns[:-1], system=case["system"], tools=case["tools"]), turns[-1].content


@pytest.mark.parametrize("name", sorted({g["template"] for g in GOLDEN["pairwise"]}))
def test_pairs_match_llamafactory(tok, name: str) -> None:
    records = [g for g in GOLDEN["pairwise"] if g["template"] == name]
    assert {g["cutoff_len"] for g in records} >= {24, 64, 100_000}
    for g in records:
        conv, chosen = prompt(CASES[g["case"]])
        (enc,) = encode_pairs(Encoder(get_template(name), tok, Options(g["cutoff_len"])),
                              [Preference(conv, chosen, g["rejected"])])
        where = f"{name} / {g['case']} / cutoff {g['cutoff_len']} / {g['rejected_variant']}"
        if all(label == -100 for label in g["chosen_labels"]):  # LLaMA-Factory trains such a row on nothing
            assert enc == Dropped("encode.no_answer_left"), where
            continue
        assert not isinstance(enc, Dropped), where
        for key in ("chosen_input_ids", "chosen_labels", "rejected_input_ids", "rejected_labels"):
            assert getattr(enc, key) == g[key], f"{where}: {key}"


@pytest.mark.parametrize("batch", GOLDEN["feedback"], ids=lambda b: f"{b['template']}-{b['cutoff_len']}")
def test_kto_rows_and_their_kl_rows_match_llamafactory(tok, batch: dict) -> None:
    items = []
    for case, answer, tag in zip(batch["batch_order"], batch["answers"], batch["input_kto_tags"], strict=True):
        conv, _ = prompt(CASES[case])
        items.append(Preference(conv, answer if tag else "", "" if tag else answer, kto=True))
    encoded = encode_feedback(Encoder(get_template(batch["template"]), tok, Options(batch["cutoff_len"])), items)
    for enc, row in zip(encoded, batch["rows"], strict=True):
        assert not isinstance(enc, Dropped)
        assert (enc.input_ids, enc.labels, enc.kto_tag) == (row["input_ids"], row["labels"], row["kto_tag"])
        assert (enc.kl_input_ids, enc.kl_labels) == (row["kl_input_ids"], row["kl_labels"])


def test_truncation_rule_and_kl_blocks(tok) -> None:
    assert infer_seqlen(10, 5, 100) == (10, 5)  # fits
    assert infer_seqlen(300, 20, 64) == (44, 20)  # the answer kept whole, the prompt cut
    assert infer_seqlen(20, 300, 64) == (20, 44)  # the prompt kept whole, the answer cut
    assert infer_seqlen(100, 300, 64) == (16, 48)  # shared in proportion
    conv = Conversation(turns=(Turn("user", "q"),))
    items = [Preference(conv, f"a{n}", "", kto=True) for n in range(KL_BLOCK + 2)]
    encoded = encode_feedback(Encoder(get_template("chatml"), tok, Options(64)), items)
    kl_answers = [tok.decode([i for i, lab in zip(e.kl_input_ids, e.kl_labels, strict=True) if lab != -100])
                  for e in encoded]
    # inside each block the previous row's answer; a block's first row takes that block's last
    assert kl_answers[0].startswith(f"a{KL_BLOCK - 1}") and kl_answers[5].startswith("a4")
    assert kl_answers[KL_BLOCK].startswith(f"a{KL_BLOCK + 1}") and kl_answers[KL_BLOCK + 1].startswith(f"a{KL_BLOCK}")
