"""Scores: LLaMA-Factory's BLEU-4 / ROUGE numbers on the same strings (a golden file its own metric code wrote,
bench/lf_golden_scores.py), exact match, JSON answers; the result tables read back from an eval folder."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from studio.serve import eval_report
from studio.serve.scores import average, json_scores, text_scores

GOLDEN = json.loads((Path(__file__).parents[2] / "fixtures" / "lf_golden_scores.json").read_text(encoding="utf-8"))


@pytest.mark.parametrize("case", GOLDEN["rows"], ids=lambda c: c["prediction"][:20] or "empty")
def test_rows_equal_llamafactory(case: dict) -> None:
    ours = text_scores(case["prediction"], case["reference"])
    assert {k: ours[k] for k in case["scores"]} == case["scores"]


def test_means_equal_llamafactory() -> None:
    rows = [text_scores(c["prediction"], c["reference"]) for c in GOLDEN["rows"]]
    assert {k: v for k, v in average(rows).items() if k in GOLDEN["mean"]} == GOLDEN["mean"]


def test_exact_match_ignores_whitespace_only() -> None:
    assert text_scores("I am  Pico.", "I am Pico.\n")["exact_match"] == 100.0
    assert text_scores("I am Pico", "I am Pico.")["exact_match"] == 0.0


def test_json_answers() -> None:
    assert json_scores('{"a": 1, "b": [2, 3]}', '{"a": 1, "b": [2, 4]}') == {"json_valid": 100.0, "json_keys": 66.6667}
    assert json_scores('```json\n{"a": 1}\n```', '{"a": 1}') == {"json_valid": 100.0, "json_keys": 100.0}
    assert json_scores("{'a': 1}", '{"a": 1}') == {"json_valid": 0.0, "json_keys": 0.0}
    assert json_scores("{}", "not json") == {}


def _job(folder: Path) -> Path:
    rows = [("base", 0, "x", 0.0), ("final", 0, "Pico", 100.0), ("base", 1, "y", 50.0), ("final", 1, "z", 10.0),
            ("base", 2, "w", 20.0), ("final", 2, "Pico here", 30.0)]
    (folder / "predictions.jsonl").write_text("".join(json.dumps(
        {"target": t, "index": i, "source": f"f row {i}", "prompt": f"q{i}", "label": "Pico", "predict": p,
         "tokens": 1, "scores": {"rouge-l": s, "exact_match": 0.0}}) + "\n" for t, i, p, s in rows) + '{"torn',
        encoding="utf-8")
    (folder / "scores.json").write_text(json.dumps({"targets": ["base", "final"], "scores": {
        "base": {"exact_match": 0.0, "eval_loss": 2.0}, "final": {"exact_match": 40.0, "eval_loss": 1.5}}}))
    return folder


def test_report_tables(tmp_path: Path) -> None:
    res = eval_report.read(_job(tmp_path))
    assert res.main == "final" and res.has_base and len(res.lines) == 6  # the torn last line is left out
    rows = eval_report.score_rows(res)
    assert rows == [["exact_match", 0.0, 40.0, 40.0], ["eval_loss", 2.0, 1.5, -0.5]]
    assert eval_report.better("eval_loss", -0.5) and eval_report.better("exact_match", 40.0)
    compared = eval_report.compared(res)
    worse, count, pages = eval_report.page_rows(compared, "worse", "", 1, 2)
    assert [r.index for r in worse] == [1, 2] and (count, pages) == (3, 2)
    better, _, _ = eval_report.page_rows(compared, "better", "", 1, 10)
    assert [r.index for r in better] == [0, 2, 1]
    found, count, _ = eval_report.page_rows(compared, "order", "pico here", 9, 10)
    assert [r.index for r in found] == [2] and count == 1
