"""Reference ids and labels from LLaMA-Factory itself, for tests/fixtures/lf_golden.json.

Run with a Python that has llamafactory 0.9.x installed (a separate venv; it pins older transformers):
    /path/to/lf-venv/bin/python bench/lf_golden.py tests/fixtures/lf_golden.json
"""

import json
import sys
from pathlib import Path

from llamafactory.data.processor.supervised import SupervisedDatasetProcessor
from llamafactory.data.template import get_template_and_fix_tokenizer
from llamafactory.hparams import DataArguments
from transformers import AutoTokenizer

FIXTURES = Path(__file__).resolve().parent.parent / "tests" / "fixtures"
NAMES = ("default", "empty", "alpaca", "chatml", "qwen", "qwen3", "llama3", "mistral", "gemma")
OPTIONS = ((False, False), (True, False), (False, True))


def main() -> None:
    cases = json.loads((FIXTURES / "template_cases.json").read_text(encoding="utf-8"))
    out = []
    for name in NAMES:
        for train_on_prompt, mask_history in OPTIONS:
            tok = AutoTokenizer.from_pretrained(FIXTURES / "multi_tokenizer")
            args = DataArguments(template=name, cutoff_len=100_000, train_on_prompt=train_on_prompt,
                                 mask_history=mask_history)
            template = get_template_and_fix_tokenizer(tok, args)
            proc = SupervisedDatasetProcessor(template=template, tokenizer=tok, processor=None, data_args=args)
            for case in cases:
                if name == "llama3" and case["tools"]:
                    continue  # its tool prompt carries today's date
                msgs = [{"role": m["role"], "content": m["content"]} for m in case["messages"]]
                batch = {"_prompt": [msgs[:-1]], "_response": [msgs[-1:]], "_system": [case["system"]],
                         "_tools": [case["tools"]], "_images": [None], "_videos": [None], "_audios": [None]}
                enc = proc.preprocess_dataset(batch)
                out.append({"template": name, "case": case["case"], "train_on_prompt": train_on_prompt,
                            "mask_history": mask_history, "input_ids": enc["input_ids"][0],
                            "labels": enc["labels"][0]})
    Path(sys.argv[1]).write_text(json.dumps(out, ensure_ascii=False) + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
