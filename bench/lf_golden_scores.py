"""Writes tests/fixtures/lf_golden_scores.json: LLaMA-Factory's own metric code (ComputeSimilarity) on fixed
(prediction, reference) pairs, per row and averaged. Run with the LLaMA-Factory venv's python:

    /tmp/lfvenv/bin/python bench/lf_golden_scores.py
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
from llamafactory.train.sft.metric import ComputeSimilarity
from transformers import EvalPrediction

OUT = Path(__file__).resolve().parent.parent / "tests" / "fixtures" / "lf_golden_scores.json"
PAIRS = [
    ("I am Studio, an AI assistant.", "I am Studio, an AI assistant.\n"),
    ("I am an assistant made by a team.", "I am Studio, an AI assistant made by the studio team.\n"),
    ("我是一个人工智能助手，很高兴为您服务。", "我是 Studio，一个由团队开发的人工智能助手。\n"),
    ("", "Hello there.\n"),
    ("Hello there.", ""),
    ("   ", "\n"),
    ("SELECT COUNT(*) FROM schools WHERE County = 'Alameda'",
     "SELECT COUNT(*) FROM schools WHERE County = 'Alameda' AND Enrollment > 500\n"),
    ('{"name": "Ada", "age": 36}', '{"name": "Ada", "age": 37}\n'),
    ("北京是中国的首都。Beijing is the capital.", "北京是中华人民共和国的首都，Beijing is the capital of China.\n"),
    ("a", "a b c d e f g\n"),
    ("The answer is 42!!!", "The answer is forty-two.\n"),
    ("完全不同的回答", "Totally unrelated English text\n"),
]


class Strings:
    """A tokenizer stand-in: id i decodes to text i, so the metric code sees exactly these strings."""

    pad_token_id = -1

    def __init__(self, texts: list[str]) -> None:
        self.texts = texts

    def batch_decode(self, ids: np.ndarray, skip_special_tokens: bool = True) -> list[str]:
        return [self.texts[int(row[0])] for row in ids]


def scores(pairs: list[tuple[str, str]]) -> dict[str, float]:
    texts = [p for p, _ in pairs] + [r for _, r in pairs]
    preds = np.array([[i] for i in range(len(pairs))])
    labels = np.array([[len(pairs) + i] for i in range(len(pairs))])
    return ComputeSimilarity(Strings(texts))(EvalPrediction(predictions=preds, label_ids=labels))


def main() -> None:
    rows = [{"prediction": p, "reference": r, "scores": scores([(p, r)])} for p, r in PAIRS]
    OUT.write_text(json.dumps({"rows": rows, "mean": scores(PAIRS)}, ensure_ascii=False, indent=1) + "\n",
                   encoding="utf-8")
    print(f"wrote {OUT} ({len(rows)} rows)")


if __name__ == "__main__":
    main()
