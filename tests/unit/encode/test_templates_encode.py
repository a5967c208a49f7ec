"""Templates and encoding: LLaMA-Factory's ids, masking, truncation, `auto`, and the template checks."""

import json
import shutil
from pathlib import Path

import pytest
from transformers import AutoTokenizer

from studio.data.conversation import Conversation, Turn
from studio.encode.encoder import IGNORE, Dropped, Encoder, Options, pad_batch, spans
from studio.templates.auto import AutoTemplate, check_auto
from studio.templates.named import CHATML_JINJA, TEMPLATES, get_template

FIXTURES = Path(__file__).parents[2] / "fixtures"
CASES = {c["case"]: c for c in json.loads((FIXTURES / "template_cases.json").read_text(encoding="utf-8"))}
GOLDEN = json.loads((FIXTURES / "lf_golden.json").read_text(encoding="utf-8"))
ROLE = {"observation": "tool"}


def conversation(case: dict) -> Conversation:
    turns = tuple(Turn(ROLE.get(m["role"], m["role"]), m["content"]) for m in case["messages"])
    return Conversation(turns=turns, system=case["system"], tools=case["tools"])


@pytest.fixture(scope="module")
def tok():
    return AutoTokenizer.from_pretrained(FIXTURES / "multi_tokenizer")


def trained_text(tok, enc) -> str:
    return tok.decode([i for i, label in zip(enc.input_ids, enc.labels, strict=True) if label != IGNORE])


@pytest.mark.parametrize("name", sorted({g["template"] for g in GOLDEN}))
def test_ids_and_labels_match_llamafactory(tok, name: str) -> None:
    """tests/fixtures/lf_golden.json was written by LLaMA-Factory 0.9.3 itself (bench/lf_golden.py)."""
    cases = [g for g in GOLDEN if g["template"] == name]
    assert cases
    for g in cases:
        options = Options(100_000, g["train_on_prompt"], g["mask_history"])
        enc = Encoder(get_template(name), tok, options).encode(conversation(CASES[g["case"]]))
        where = f"{name} / {g['case']} / train_on_prompt={g['train_on_prompt']} mask_history={g['mask_history']}"
        assert enc.input_ids == g["input_ids"], where
        assert enc.labels == g["labels"], where


def test_every_required_template_is_covered_by_the_reference() -> None:
    required = {"default", "empty", "alpaca", "chatml", "qwen", "qwen3", "llama3", "mistral", "gemma"}
    assert required <= set(TEMPLATES) and required == {g["template"] for g in GOLDEN}


def test_each_answer_ends_with_a_trained_stop_token(tok) -> None:
    conv = conversation(CASES["multi_zh"])
    for name, stop in (("chatml", "<|im_end|>"), ("qwen", "<|im_end|>"), ("llama3", "<|eot_id|>"),
                       ("gemma", "<end_of_turn>"), ("default", "</s>"), ("mistral", "</s>")):
        enc = Encoder(get_template(name), tok, Options(4096)).encode(conv)
        assert trained_text(tok, enc).count(stop) == 2, name
    assert not get_template("empty").trains_stop and all(t.trains_stop for n, t in TEMPLATES.items() if n != "empty")


def test_mask_history_trains_only_the_last_answer(tok) -> None:
    conv = conversation(CASES["multi_zh"])
    enc = Encoder(get_template("chatml"), tok, Options(4096, mask_history=True)).encode(conv)
    assert trained_text(tok, enc) == "今天晴朗。<|im_end|>\n"


def test_truncation_drops_oldest_turns_first_and_keeps_the_system_prompt(tok) -> None:
    long_first = Conversation(turns=(Turn("user", "hello there " * 40), Turn("assistant", "Hi! " * 40),
                                     Turn("user", "你好"), Turn("assistant", "今天晴朗。")), system="Be brief.")
    enc = Encoder(get_template("chatml"), tok, Options(48)).encode(long_first)
    assert enc.truncated == "turns" and len(enc.input_ids) <= 48
    text = tok.decode(enc.input_ids)
    assert text.startswith("<|im_start|>system\nBe brief.") and "hello there" not in text
    assert trained_text(tok, enc) == "今天晴朗。<|im_end|>\n"


def test_long_prompt_is_cut_at_its_start_so_the_header_and_answer_survive(tok) -> None:
    conv = Conversation(turns=(Turn("user", "The quick brown fox jumps over the lazy dog. " * 30),
                               Turn("assistant", "4")))
    enc = Encoder(get_template("llama3"), tok, Options(64)).encode(conv)
    assert enc.truncated == "prompt" and len(enc.input_ids) == 64
    assert enc.input_ids[0] == tok.bos_token_id  # the BOS prefix is kept
    assert tok.decode(enc.input_ids).endswith("<|start_header_id|>assistant<|end_header_id|>\n\n4<|eot_id|>")


def test_long_answer_is_cut_at_its_end_and_said_so(tok) -> None:
    conv = Conversation(turns=(Turn("user", "Write a poem about the sea."),
                               Turn("assistant", "The sea is wide and blue. " * 50)))
    enc = Encoder(get_template("chatml"), tok, Options(64)).encode(conv)
    assert enc.truncated == "answer" and len(enc.input_ids) == 64
    assert tok.decode(enc.input_ids).startswith("<|im_start|>user\nWrite a poem about the sea.")
    assert "<|im_end|>" not in trained_text(tok, enc)


def test_rows_the_template_cannot_write_are_dropped_with_a_reason(tok) -> None:
    bad = Conversation(turns=(Turn("user", "q"), Turn("function", "not json"), Turn("tool", "r"),
                              Turn("assistant", "a")))
    result = Encoder(get_template("qwen"), tok, Options(1024)).encode(bad)
    assert isinstance(result, Dropped) and result.reason == "encode.bad_function"


def test_spans_are_decoded_from_the_trained_ids(tok) -> None:
    enc = Encoder(get_template("chatml"), tok, Options(1024)).encode(conversation(CASES["single"]))
    assert spans(enc, tok) == [("<|im_start|>user\nWrite a poem about the sea.<|im_end|>\n<|im_start|>assistant\n",
                                False), ("The sea is wide and blue.<|im_end|>\n", True)]


def test_auto_splits_a_chat_template_into_the_same_ids_as_the_named_template(tok) -> None:
    chat_tok = AutoTokenizer.from_pretrained(FIXTURES / "multi_tokenizer")
    chat_tok.chat_template = CHATML_JINJA
    assert check_auto(chat_tok) == ""
    for case in ("single", "multi_zh"):
        conv = conversation(CASES[case])
        auto = Encoder(AutoTemplate(chat_tok), chat_tok, Options(4096)).encode(conv)
        named = Encoder(get_template("chatml"), chat_tok, Options(4096)).encode(conv)
        assert (auto.input_ids, auto.labels) == (named.input_ids, named.labels), case


def test_auto_refuses_templates_it_cannot_split(tok) -> None:
    assert check_auto(tok) == "no_chat_template"
    rewriting = AutoTokenizer.from_pretrained(FIXTURES / "multi_tokenizer")
    rewriting.chat_template = ("{% for m in messages %}{% if loop.last %}<|im_start|>{% endif %}"
                               "{{ m['content'] }}<|im_end|>{% endfor %}")
    assert "changed the text written for the turns before it" in check_auto(rewriting)


def test_pad_batch_pads_to_the_longest_row_and_packed_rows_keep_positions() -> None:
    batch = pad_batch([{"input_ids": [1, 2, 3], "labels": [IGNORE, 2, 3]}, {"input_ids": [4], "labels": [4]}], 0)
    assert batch == {"input_ids": [[1, 2, 3], [4, 0, 0]], "labels": [[IGNORE, 2, 3], [4, IGNORE, IGNORE]],
                     "attention_mask": [[1, 1, 1], [1, 0, 0]]}
    packed = pad_batch([{"input_ids": [1, 2, 3], "labels": [IGNORE, 2, 3], "position_ids": [0, 1, 0]},
                        {"input_ids": [4], "labels": [IGNORE], "position_ids": [0]}], 0)
    assert packed["position_ids"] == [[0, 1, 0], [0, 0, 1]] and "attention_mask" not in packed


def test_template_checks_name_the_problem(tmp_path: Path, demo_model: Path) -> None:
    from studio.core import config as cfgmod
    from studio.train.checks import check_template

    def texts(**values) -> list[str]:
        cfg, issues = cfgmod.from_dict({"model_name_or_path": str(demo_model), **values}, "test")
        return [i.text() for i in issues + ([] if cfgmod.has_errors(issues) else check_template(cfg, demo_model))]

    unknown = texts(template="llama2")
    assert any("'llama2' is not one of" in s and "qwen3" in s and "auto" in s for s in unknown)
    missing = texts(template="llama3")
    assert any("<|start_header_id|>, <|end_header_id|>, <|eot_id|>" in s and "chatml" in s for s in missing)
    assert any("limit of 1024 tokens" in s for s in texts(cutoff_len=4096))
    assert any("must be at least" in s or "outside the allowed range" in s for s in texts(cutoff_len=8))
    assert any("mask_history and train_on_prompt" in s for s in texts(mask_history=True, train_on_prompt=True))
    assert any("trains no stop token" in s for s in texts(template="empty"))
    assert any("looks like 'chatml'" in s for s in texts(template="default"))
    assert texts() == []  # the demo model with its own template: nothing to say
    plain = tmp_path / "plain"
    shutil.copytree(demo_model, plain)
    config = json.loads((plain / "tokenizer_config.json").read_text())
    config.pop("chat_template", None)
    (plain / "tokenizer_config.json").write_text(json.dumps(config))
    (plain / "chat_template.jinja").unlink(missing_ok=True)
    cfg, _ = cfgmod.from_dict({"model_name_or_path": str(plain), "template": "auto"}, "test")
    assert any("has none (no chat_template" in i.text() for i in check_template(cfg, plain))
