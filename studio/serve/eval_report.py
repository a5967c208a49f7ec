"""An eval job's results read back from its folder: the score table (base vs tuned, with the difference), the
per-row comparison (sortable by which side did better, filterable, paged) and the score per checkpoint."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from studio.core.rundir import PREDICTIONS_FILE, SCORES_FILE
from studio.runs import evalplan

# the table's order; lower is better only for the losses
SCORE_KEYS = ("exact_match", "bleu-4", "rouge-1", "rouge-2", "rouge-l", "execution_match", "json_valid", "json_keys",
              "eval_loss", "perplexity", "answer_chars")
LOWER_BETTER = {"eval_loss", "perplexity"}
ROW_SCORE = "rouge-l"  # the per-row score the comparison sorts by (exact match ties too often)
SORTS = ("order", "worse", "better")  # dataset order; tuned worse than base first; tuned better first


@dataclass(frozen=True)
class Results:
    scores: dict[str, Any]  # scores.json
    lines: list[dict[str, Any]]  # predictions.jsonl

    @property
    def targets(self) -> list[str]:
        return list(self.scores.get("targets") or sorted({d["target"] for d in self.lines}))

    @property
    def main(self) -> str:
        tuned = [t for t in self.targets if t != evalplan.BASE]
        return evalplan.main_target(tuned) if tuned else evalplan.BASE

    @property
    def has_base(self) -> bool:
        return evalplan.BASE in self.targets and self.main != evalplan.BASE


def read(run_dir: Path) -> Results:
    """What the folder holds so far: scores.json once the job has finished, predictions as they arrive."""
    try:
        scores = json.loads((run_dir / SCORES_FILE).read_text(encoding="utf-8"))
    except (FileNotFoundError, json.JSONDecodeError):
        scores = {}
    lines = []
    try:
        for text in (run_dir / PREDICTIONS_FILE).read_text(encoding="utf-8").splitlines():
            try:
                lines.append(json.loads(text))
            except json.JSONDecodeError:
                continue  # torn by a kill: written again on resume
    except FileNotFoundError:
        pass
    return Results(scores, lines)


def score_rows(res: Results) -> list[list[Any]]:
    """[score, value per target..., difference main - base] for every score any target has."""
    per = res.scores.get("scores") or {}
    rows = []
    for key in SCORE_KEYS:
        values = [per.get(t, {}).get(key) for t in res.targets]
        if all(v is None for v in values):
            continue
        row: list[Any] = [key, *values]
        if res.has_base:
            base, main = per.get(evalplan.BASE, {}).get(key), per.get(res.main, {}).get(key)
            row.append(None if base is None or main is None else main - base)
        rows.append(row)
    return rows


def better(key: str, difference: float | None) -> bool | None:
    """Whether a difference (tuned - base) is an improvement for this score."""
    if difference is None or abs(difference) < 1e-12 or key == "answer_chars":  # longer is neither
        return None
    return (difference < 0) if key in LOWER_BETTER else (difference > 0)


@dataclass(frozen=True)
class Compared:
    index: int
    source: str
    prompt: str
    label: str | None
    base: str | None
    tuned: str | None
    base_score: float | None
    tuned_score: float | None
    tuned_em: float | None

    @property
    def difference(self) -> float | None:
        if self.base_score is None or self.tuned_score is None:
            return None
        return self.tuned_score - self.base_score


def compared(res: Results) -> list[Compared]:
    """One entry per row: its prompt, reference, the base's and the main weights' answers and row scores."""
    by: dict[str, dict[int, dict[str, Any]]] = {}
    for d in res.lines:
        by.setdefault(d["target"], {})[d["index"]] = d
    base, tuned = by.get(evalplan.BASE, {}) if res.has_base else {}, by.get(res.main, {})
    out = []
    for index in sorted(set(base) | set(tuned)):
        b, t = base.get(index), tuned.get(index)
        first = t or b or {}
        out.append(Compared(index, first.get("source", ""), first.get("prompt", ""), first.get("label"),
                            b and b["predict"], t and t["predict"],
                            (b or {}).get("scores", {}).get(ROW_SCORE), (t or {}).get("scores", {}).get(ROW_SCORE),
                            (t or {}).get("scores", {}).get("exact_match")))
    return out


def page_rows(rows: list[Compared], sort: str = "order", query: str = "", page: int = 1, size: int = 10
              ) -> tuple[list[Compared], int, int]:
    """The rows of one page after filtering (text anywhere in the row) and sorting; also the matching count and
    the number of pages."""
    needle = query.strip().lower()
    if needle:
        rows = [r for r in rows if any(needle in (s or "").lower() for s in (r.prompt, r.label, r.base, r.tuned,
                                                                            r.source))]
    if sort in ("worse", "better"):
        sign = 1 if sort == "worse" else -1
        rows = sorted(rows, key=lambda r: (r.difference is None, sign * (r.difference or 0.0), r.index))
    size = max(1, size)
    pages = max(1, -(-len(rows) // size))
    page = min(max(1, page), pages)
    return rows[(page - 1) * size: page * size], len(rows), pages


def checkpoint_curve(res: Results, key: str = ROW_SCORE) -> list[tuple[int, float]]:
    """(training step, score) for every checkpoint evaluated, in step order: where the run peaked."""
    steps = res.scores.get("steps") or {}
    per = res.scores.get("scores") or {}
    points = {int(step): float(per[name][key]) for name, step in steps.items() if key in per.get(name, {})}
    return sorted(points.items())  # the final weights of a run saved at its last step are that checkpoint
