from studio.data.conversation import Conversation, Turn
from studio.encode import IGNORE, encode, pad_batch
from studio.templates import get_template

CONV = Conversation(turns=(Turn("user", "hi"), Turn("assistant", "hello"), Turn("user", "who?"),
                           Turn("assistant", "me")), system="S")


def test_chatml_segments_train_answers_and_stop_token_only() -> None:
    segs = get_template("chatml").segments(CONV)
    assert segs == [
        ("<|im_start|>system\nS<|im_end|>\n<|im_start|>user\nhi<|im_end|>\n<|im_start|>assistant\n", False),
        ("hello<|im_end|>\n", True),
        ("<|im_start|>user\nwho?<|im_end|>\n<|im_start|>assistant\n", False),
        ("me<|im_end|>\n", True)]


def test_prompt_ends_with_assistant_header() -> None:
    prompt = get_template("chatml").prompt(Conversation(turns=(Turn("user", "你是谁？"),)))
    assert prompt == "<|im_start|>user\n你是谁？<|im_end|>\n<|im_start|>assistant\n"


def test_encode_masks_prompt_with_real_tokenizer(demo_model) -> None:
    from transformers import AutoTokenizer

    tok = AutoTokenizer.from_pretrained(demo_model)
    enc = encode(get_template("chatml").segments(CONV), tok, cutoff_len=1024)
    trained = tok.decode([i for i, lab in zip(enc.input_ids, enc.labels, strict=True) if lab != IGNORE])
    assert trained == "hello<|im_end|>\nme<|im_end|>\n"
    assert tok.convert_tokens_to_ids("<|im_end|>") in [lab for lab in enc.labels if lab != IGNORE]


def test_encode_drops_row_when_cutoff_leaves_no_answer(demo_model) -> None:
    from transformers import AutoTokenizer

    tok = AutoTokenizer.from_pretrained(demo_model)
    assert encode(get_template("chatml").segments(CONV), tok, cutoff_len=4) is None


def test_pad_batch_pads_to_longest_in_batch_not_cutoff() -> None:
    batch = pad_batch([{"input_ids": [1, 2, 3], "labels": [IGNORE, 2, 3]}, {"input_ids": [4], "labels": [4]}], 0)
    assert batch == {"input_ids": [[1, 2, 3], [4, 0, 0]], "labels": [[IGNORE, 2, 3], [4, IGNORE, IGNORE]],
                     "attention_mask": [[1, 1, 1], [1, 0, 0]]}
