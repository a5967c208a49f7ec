"""Reference pairwise (DPO/RM) and feedback (KTO) ids and labels from LLaMA-Factory itself.

Writes chosen/rejected ids+labels from PairwiseDatasetProcessor and target/KL ids+labels from
FeedbackDatasetProcessor for every template in NAMES and every case of tests/fixtures/template_cases.json,
at cutoff_len 100000 and at small cutoffs (so that infer_seqlen truncation is exercised), plus what
LLaMA-Factory's alpaca/sharegpt converters turn ranking and kto_tag rows into.

Run with a Python that has llamafactory 0.9.x installed (a separate venv; it pins older transformers):
    /path/to/lf-venv/bin/python bench/lf_golden_pref.py tests/fixtures tests/fixtures/lf_golden_pref.json
(the first argument is the fixtures folder holding template_cases.json and multi_tokenizer).
"""

import json
import sys
from pathlib import Path

from llamafactory.data.converter import AlpacaDatasetConverter, SharegptDatasetConverter
from llamafactory.data.parser import DatasetAttr
from llamafactory.data.processor.feedback import FeedbackDatasetProcessor
from llamafactory.data.processor.pairwise import PairwiseDatasetProcessor
from llamafactory.data.template import get_template_and_fix_tokenizer
from llamafactory.hparams import DataArguments
from transformers import AutoTokenizer

NAMES = ("default", "empty", "alpaca", "chatml", "qwen", "qwen3", "llama3", "mistral", "gemma")
BIG = 100_000
PAIR_CUTOFFS = (BIG, 24, 64)
KTO_CUTOFFS = (BIG, 64)
LONG = ("No, that is not right at all. " * 6 + "Let me explain at length why the question itself is "
        "mistaken and why you should ask something else entirely instead.")


def rejected_text(chosen: str, variant: str) -> str:
    """Deterministic rejected answer: 'short' = 'No. ' + chosen words reversed; 'long' = a long refusal."""
    if variant == "short":
        return "No. " + " ".join(reversed(chosen.split(" ")))
    return LONG


def blank(batch_size: int) -> dict:
    return {"_images": [None] * batch_size, "_videos": [None] * batch_size, "_audios": [None] * batch_size}


def setup(fixtures: Path, name: str, cutoff: int, cls):
    tok = AutoTokenizer.from_pretrained(fixtures / "multi_tokenizer")
    args = DataArguments(template=name, cutoff_len=cutoff)
    template = get_template_and_fix_tokenizer(tok, args)
    return cls(template=template, tokenizer=tok, processor=None, data_args=args)


def pairwise(fixtures: Path, cases: list) -> list:
    out = []
    for name in NAMES:
        for cutoff in PAIR_CUTOFFS:
            proc = setup(fixtures, name, cutoff, PairwiseDatasetProcessor)
            for case in cases:
                if name == "llama3" and case["tools"]:
                    continue  # its tool prompt carries today's date
                msgs = [{"role": m["role"], "content": m["content"]} for m in case["messages"]]
                for variant in ("short", "long"):
                    rej = rejected_text(msgs[-1]["content"], variant)
                    batch = {"_prompt": [msgs[:-1]],
                             "_response": [[msgs[-1], {"role": "assistant", "content": rej}]],
                             "_system": [case["system"]], "_tools": [case["tools"]], **blank(1)}
                    enc = proc.preprocess_dataset(batch)
                    out.append({"template": name, "case": case["case"], "cutoff_len": cutoff,
                                "rejected_variant": variant, "rejected": rej,
                                "chosen_input_ids": enc["chosen_input_ids"][0],
                                "chosen_labels": enc["chosen_labels"][0],
                                "rejected_input_ids": enc["rejected_input_ids"][0],
                                "rejected_labels": enc["rejected_labels"][0]})
    return out


def feedback(fixtures: Path, cases: list) -> list:
    """One preprocess_dataset call (= one datasets.map batch) per template and cutoff; tags alternate
    True, False, True, ... in batch order. Desirable rows answer with the case's own answer, undesirable
    rows with rejected_text(answer, 'short') (or 'long' for case multi_zh)."""
    out = []
    for name in NAMES:
        for cutoff in KTO_CUTOFFS:
            proc = setup(fixtures, name, cutoff, FeedbackDatasetProcessor)
            rows = [c for c in cases if not (name == "llama3" and c["tools"])]
            prompts, responses, answers, tags = [], [], [], []
            for i, case in enumerate(rows):
                msgs = [{"role": m["role"], "content": m["content"]} for m in case["messages"]]
                tag = i % 2 == 0
                if tag:
                    answer = msgs[-1]["content"]
                    resp = [{"role": "assistant", "content": answer}, {"role": "assistant", "content": ""}]
                else:
                    answer = rejected_text(msgs[-1]["content"], "long" if case["case"] == "multi_zh" else "short")
                    resp = [{"role": "assistant", "content": ""}, {"role": "assistant", "content": answer}]
                prompts.append(msgs[:-1])
                responses.append(resp)
                answers.append(answer)
                tags.append(tag)
            batch = {"_prompt": prompts, "_response": responses, "_system": [c["system"] for c in rows],
                     "_tools": [c["tools"] for c in rows], **blank(len(rows))}
            enc = proc.preprocess_dataset(batch)
            assert len(enc["input_ids"]) == len(rows)
            out.append({"template": name, "cutoff_len": cutoff, "batch_order": [c["case"] for c in rows],
                        "answers": answers, "input_kto_tags": tags,
                        "rows": [{"case": rows[i]["case"], "kto_tag": enc["kto_tags"][i],
                                  "input_ids": enc["input_ids"][i], "labels": enc["labels"][i],
                                  "kl_input_ids": enc["kl_input_ids"][i], "kl_labels": enc["kl_labels"][i]}
                                 for i in range(len(rows))]})
    return out


def converters() -> list:
    """What LLaMA-Factory's converters make of ranking / kto_tag rows, including malformed ones."""
    data_args = DataArguments(template="default")
    out = []

    def run(kind: str, attr_kwargs: dict, example: dict, note: str) -> None:
        attr = DatasetAttr("file", dataset_name="golden", **attr_kwargs)
        conv = (AlpacaDatasetConverter if kind == "alpaca" else SharegptDatasetConverter)(attr, data_args)
        res = conv(example)
        out.append({"formatting": kind, "attr": attr_kwargs, "example": example, "note": note,
                    "_prompt": res["_prompt"], "_response": res["_response"], "_system": res["_system"]})

    a_rank = {"ranking": True, "chosen": "chosen", "rejected": "rejected", "system": "system"}
    run("alpaca", a_rank, {"instruction": "Say hi", "input": "politely", "output": "", "chosen": "Hi!",
                           "rejected": "Go away.", "system": "sys"}, "alpaca ranking row")
    run("alpaca", {**a_rank, "history": "history"},
        {"instruction": "Q2", "input": "", "output": "", "chosen": "A2", "rejected": "B2", "system": "",
         "history": [["Q1", "A1"]]}, "alpaca ranking row with history and empty input")
    run("alpaca", a_rank, {"instruction": "Say hi", "input": "", "output": "fallback", "chosen": ["Hi!"],
                           "rejected": "Go away.", "system": ""}, "alpaca ranking row whose chosen is not a str")
    a_kto = {"kto_tag": "kto_tag"}
    for tag in (True, False, "true", 1, None):
        run("alpaca", a_kto, {"instruction": "Say hi", "input": "", "output": "Hi!", "kto_tag": tag},
            f"alpaca kto row with kto_tag={tag!r}")
    s_rank = {"formatting": "sharegpt", "ranking": True, "chosen": "chosen", "rejected": "rejected"}
    conv = [{"from": "human", "value": "Say hi"}]
    run("sharegpt", s_rank, {"conversations": conv, "chosen": {"from": "gpt", "value": "Hi!"},
                             "rejected": {"from": "gpt", "value": "Go away."}}, "sharegpt ranking row")
    run("sharegpt", s_rank, {"conversations": conv, "chosen": {"from": "human", "value": "Hi!"},
                             "rejected": {"from": "gpt", "value": "Go away."}},
        "sharegpt ranking row whose chosen role is human (warned, broken_data set too late, NOT dropped)")
    run("sharegpt", s_rank, {"conversations": conv, "chosen": {"from": "function_call", "value": "{}"},
                             "rejected": {"from": "gpt", "value": "Go away."}},
        "sharegpt ranking row whose chosen role is function_call (accepted)")
    run("sharegpt", s_rank, {"conversations": conv + [{"from": "gpt", "value": "x"}],
                             "chosen": {"from": "gpt", "value": "Hi!"}, "rejected": {"from": "gpt", "value": "No"}},
        "sharegpt ranking row with even message count (dropped: empty prompt/response)")
    s_kto = {"formatting": "sharegpt", "kto_tag": "kto_tag"}
    conv2 = conv + [{"from": "gpt", "value": "Hi!"}]
    for tag in (True, False, "false", None):
        run("sharegpt", s_kto, {"conversations": conv2, "kto_tag": tag}, f"sharegpt kto row with kto_tag={tag!r}")
    return out


def main() -> None:
    fixtures = Path(sys.argv[1])
    cases = json.loads((fixtures / "template_cases.json").read_text(encoding="utf-8"))
    out = {"pairwise": pairwise(fixtures, cases), "feedback": feedback(fixtures, cases), "converter": converters()}
    Path(sys.argv[2]).write_text(json.dumps(out, ensure_ascii=False) + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
