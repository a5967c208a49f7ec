"""Per-row scores of a prediction against its reference, and their averages.

BLEU-4 and ROUGE-1/2/L are computed as LLaMA-Factory's `ComputeSimilarity` computes them, so the numbers match:
BLEU at character level (nltk `sentence_bleu`, smoothing method3), ROUGE on jieba words (`rouge_chinese`), each
×100 and rounded to 4 places per row, then averaged with numpy. Exact match compares after collapsing whitespace.
Answers that are JSON also get a validity and a key-level score.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterable
from typing import Any

TEXT_SCORES = ("bleu-4", "rouge-1", "rouge-2", "rouge-l", "exact_match")
_ROUGE_ZERO = {"rouge-1": {"f": 0.0}, "rouge-2": {"f": 0.0}, "rouge-l": {"f": 0.0}}


def _tools() -> tuple[Any, Any, Any, Any]:
    import jieba
    from nltk.translate.bleu_score import SmoothingFunction, sentence_bleu
    from rouge_chinese import Rouge

    jieba.setLogLevel(logging.WARNING)  # its dictionary notice is not the user's business
    return jieba, sentence_bleu, SmoothingFunction().method3, Rouge()


def normalise(text: str) -> str:
    return " ".join(text.split())


def text_scores(prediction: str, reference: str) -> dict[str, float]:
    """One row's BLEU-4, ROUGE-1/2/L (LLaMA-Factory's numbers) and exact match, each 0..100."""
    jieba, bleu, smoothing, rouge = _tools()
    hypothesis, words = list(jieba.cut(prediction)), list(jieba.cut(reference))
    if not " ".join(hypothesis).split() or not " ".join(words).split():
        result = _ROUGE_ZERO
    else:
        result = rouge.get_scores(" ".join(hypothesis), " ".join(words))[0]
    row = {key: round(value["f"] * 100, 4) for key, value in result.items()}
    row["bleu-4"] = round(bleu([list(reference)], list(prediction), smoothing_function=smoothing) * 100, 4)
    row["exact_match"] = 100.0 if normalise(prediction) == normalise(reference) else 0.0
    return row


def mean(values: Iterable[float]) -> float:
    import numpy as np

    found = list(values)
    return float(np.mean(found)) if found else 0.0


def average(rows: list[dict[str, float]], keys: Iterable[str] = TEXT_SCORES) -> dict[str, float]:
    return {key: mean(r[key] for r in rows if key in r) for key in keys}


# JSON answers --------------------------------------------------------------------------------------------------

def parse_json(text: str) -> Any:
    """The JSON value an answer holds (a ```json fence around it is allowed), or raises ValueError."""
    body = text.strip()
    if body.startswith("```"):
        body = body.split("\n", 1)[1] if "\n" in body else ""
        body = body.rsplit("```", 1)[0]
    return json.loads(body)


def is_json_answer(text: str) -> bool:
    try:
        return isinstance(parse_json(text), dict | list)
    except ValueError:
        return False


def _leaves(value: Any, path: str = "") -> dict[str, str]:
    """Every leaf of a JSON value by its path (a.b[0].c), with its value written canonically."""
    if isinstance(value, dict):
        out: dict[str, str] = {}
        for key, item in value.items():
            out |= _leaves(item, f"{path}.{key}" if path else str(key))
        return out
    if isinstance(value, list):
        out = {}
        for i, item in enumerate(value):
            out |= _leaves(item, f"{path}[{i}]")
        return out or {path: "[]"}
    return {path: json.dumps(value, sort_keys=True, ensure_ascii=False)}


def json_scores(prediction: str, reference: str) -> dict[str, float]:
    """json_valid: the prediction parses; json_keys: share of the reference's leaves the prediction has, equal."""
    try:
        want = _leaves(parse_json(reference))
    except ValueError:
        return {}
    try:
        got = _leaves(parse_json(prediction))
    except ValueError:
        return {"json_valid": 0.0, "json_keys": 0.0}
    same = sum(got.get(path) == value for path, value in want.items())
    return {"json_valid": 100.0, "json_keys": round(100.0 * same / len(want), 4) if want else 100.0}
