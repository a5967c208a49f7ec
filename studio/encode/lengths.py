"""Token lengths of a dataset through the training encoder, and the one cutoff rule drawn from them: the p99 of
whole-conversation lengths over every kept row, rounded up to a multiple of 64 (capped at the model's limit).
The Data tab's suggestion and `cutoff_len: 0` at launch are this one number."""

from __future__ import annotations

import math
from functools import lru_cache
from pathlib import Path
from typing import Any

from studio.data.load import entry_for, load_dataset
from studio.data.report import Report, inspect, stats
from studio.encode.encoder import IGNORE, Dropped, Encoder, Options
from studio.model.info import context_limit, load_tokenizer, propose_template
from studio.templates.registry import make_template

STEP = 64
UNCUT = 1 << 30  # "no cutoff": lengths are measured whole


def p99(values: list[int]) -> int:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, math.ceil(0.99 * len(ordered)) - 1)] if ordered else 0


def cutoff_for(totals: list[int], limit: int | None = None) -> int:
    """The cutoff a dataset suggests: its p99 rounded up to a multiple of 64, at least 64, at most `limit`."""
    value = max(STEP, math.ceil(p99(totals) / STEP) * STEP)
    return min(value, limit) if limit else value


def token_lengths(convs: list[Any], encoder: Encoder) -> tuple[list[int], list[int]]:
    """(prompt, response) token counts per conversation through the training encoder, uncut."""
    prompt, response = [], []
    for result in encoder.encode_many(convs):
        trained = getattr(result, "trained_tokens", 0)
        prompt.append(len(getattr(result, "input_ids", ())) - trained)
        response.append(trained)
    return prompt, response


def measure(report: Report, tokenizer: Any, template: str, model: Path) -> Report:
    """Add token lengths, their distribution and the suggested cutoff to an inspection report."""
    report.tokenizer, report.template = model.name, template
    convs = report.conversations or []
    if not convs:
        return report
    tpl = make_template(template, tokenizer)
    report.encoder = lambda cutoff: Encoder(tpl, tokenizer, Options(cutoff))
    if report.kind == "sft":
        prompt, response = token_lengths(convs, Encoder(tpl, tokenizer, Options(UNCUT)))
        totals = [p + r for p, r in zip(prompt, response, strict=True)]
        report.lengths = {"prompt": stats(prompt), "response": stats(response), "total": stats(totals)}
    else:
        prompt, totals = _preference_lengths(report, Encoder(tpl, tokenizer, Options(UNCUT)))
    report.context_limit = context_limit(model)
    report.suggested_cutoff = cutoff_for(totals, report.context_limit)
    report.totals, report.prompts = totals, prompt
    report.cdf = _cdf(totals)
    return report


def _cdf(values: list[int]) -> list[tuple[int, float]]:
    ordered = sorted(values)
    return [(v, round((i + 1) / len(ordered), 4)) for i, v in enumerate(ordered)
            if i + 1 == len(ordered) or ordered[i + 1] != v]


def _preference_lengths(report: Report, encoder: Encoder) -> tuple[list[int], list[int]]:
    """Token lengths of pairs (prompt, chosen, rejected answers; a row's total is the prompt + its longer answer)
    or of KTO rows (good and bad answers apart); returns (prompt, total) per kept row."""
    from studio.encode.pairs import encode_rows, row_length

    kto = report.kind == "kto"
    results = encode_rows(encoder, report.conversations or [], kto)
    report.conversations = [c for c, r in zip(report.conversations or [], results, strict=True)
                            if not isinstance(r, Dropped)]  # (uncut, only tools that are not JSON drop a row)
    report.encode = lambda enc, items: encode_rows(enc, items, kto)
    rows: list[Any] = [r for r in results if not isinstance(r, Dropped)]
    if report.kind == "pairs":
        sides = {"chosen": [sum(x != IGNORE for x in r.chosen_labels) for r in rows],
                 "rejected": [sum(x != IGNORE for x in r.rejected_labels) for r in rows]}
        prompt = [len(r.chosen_input_ids) - c for r, c in zip(rows, sides["chosen"], strict=True)]
        report.side_cdf = {side: _cdf(values) for side, values in sides.items()}
    else:
        answers = [sum(x != IGNORE for x in r.labels) for r in rows]
        prompt = [len(r.input_ids) - a for r, a in zip(rows, answers, strict=True)]
        sides = {"good": [a for a, r in zip(answers, rows, strict=True) if r.kto_tag],
                 "bad": [a for a, r in zip(answers, rows, strict=True) if not r.kto_tag]}
    totals = [row_length(r) for r in rows]
    report.lengths = {"prompt": stats(prompt), **{k: stats(v) for k, v in sides.items()}, "total": stats(totals)}
    return prompt, totals


def inspect_dataset(data_dir: Path, name: str, model: Path | None = None, template: str = "",
                    trust_remote_code: bool = False) -> Report:
    """The Data tab's report; token lengths go through `template` (default: the one the model proposes)."""
    from studio.data.preference import kind
    from studio.data.report import inspect_preferences

    entry = entry_for(data_dir / "dataset_info.json", name)
    report = (inspect if kind(entry) == "sft" else inspect_preferences)(entry, data_dir)
    if model is None:
        report.template = template or "chatml"
        return report
    tokenizer = load_tokenizer(model, trust_remote_code)
    return measure(report, tokenizer, template or propose_template(model, tokenizer)[0], model)


@lru_cache(maxsize=16)
def _dataset_cutoff(data_dir: str, dataset: str, model: str, template: str, trust: bool, stamp: tuple) -> int:
    tokenizer = load_tokenizer(Path(model), trust)
    registry = Path(data_dir) / "dataset_info.json"
    from studio.data.preference import kind, load_preferences
    from studio.data.registry import get_entry

    if (shape := kind(get_entry(registry, dataset))) != "sft":  # preference rows: the longer side of each
        from studio.encode.pairs import encode_rows, row_length

        encoder = Encoder(make_template(template, tokenizer), tokenizer, Options(UNCUT))
        items = load_preferences(registry, dataset).items
        totals = [row_length(e) for e in encode_rows(encoder, items, shape == "kto") if not isinstance(e, Dropped)]
        return cutoff_for(totals, context_limit(Path(model)))
    convs = load_dataset(registry, dataset).conversations
    prompt, response = token_lengths(convs, Encoder(make_template(template, tokenizer), tokenizer, Options(UNCUT)))
    return cutoff_for([p + r for p, r in zip(prompt, response, strict=True)], context_limit(Path(model)))


def dataset_cutoff(data_dir: Path, dataset: str, model: Path, template: str, trust_remote_code: bool = False) -> int:
    """`cutoff_len: 0` made a number: the same rule and rows as the Data tab's suggestion (cached per file state)."""
    stamp = tuple(p.stat().st_mtime_ns for p in sorted(data_dir.iterdir()) if p.is_file())
    return _dataset_cutoff(str(data_dir), dataset, str(model), template, trust_remote_code, stamp)
