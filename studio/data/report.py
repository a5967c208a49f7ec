"""The inspect report of a dataset: kept / dropped by reason, quality flags, token lengths and advice."""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from studio.core.errors import StudioError
from studio.core.messages import Both, render
from studio.data.conversation import Conversation
from studio.data.load import converted
from studio.data.registry import DatasetEntry

PERCENTILES = (50, 90, 95, 99)
DROPPED_KEPT = 1000  # dropped rows kept for paging in the report; the counts cover them all
EXAMPLES = 5
# The replacement character, or UTF-8 read as Latin-1 / cp1252 ("Ã©", "â€™", "æ–‡"): a lead byte shown
# as a letter followed by as many continuation bytes (shown as symbols) as that lead announces.
_CONT = "[\u0080-\u00bf\u0152\u0153\u0160\u0161\u0178\u017d\u017e\u0192\u02c6\u02dc\u2013\u2014" \
        "\u2018-\u201e\u2020-\u2022\u2026\u2030\u2039\u203a\u20ac\u2122]"
GARBLED = re.compile(f"\ufffd|[\u00c2-\u00df]{_CONT}|[\u00e0-\u00ef]{_CONT}{{2}}")
SHORT_CHARS = 2  # an answer of at most this many characters is flagged as very short
LONG_FACTOR = 8  # a row this many times longer than the median is flagged as very long


@dataclass
class Dropped:
    file: str
    row: int
    reason: str  # message key
    text_en: str
    text_zh: str


@dataclass
class Report:
    name: str
    total: int = 0
    kept: int = 0
    dropped_by_reason: dict[str, int] = field(default_factory=dict)
    dropped: list[Dropped] = field(default_factory=list)
    quality: dict[str, dict[str, Any]] = field(default_factory=dict)  # flag -> {count, rows}
    lengths: dict[str, dict[str, int]] = field(default_factory=dict)  # prompt/response/total -> stats
    tokenizer: str = ""
    template: str = ""
    suggested_cutoff: int | None = None
    context_limit: int | None = None  # the model's longest sequence, which caps the suggestion
    cdf: list[tuple[int, float]] = field(default_factory=list)  # (total tokens, share of rows at or below)
    totals: list[int] = field(default_factory=list)  # per kept row, for cutoff questions
    prompts: list[int] = field(default_factory=list)
    kind: str = "sft"  # sft | pairs | kto (studio.data.preference.kind)
    side_cdf: dict[str, list[tuple[int, float]]] = field(default_factory=dict)  # pairs: chosen / rejected answers

    # not fields (never serialized): the kept conversations (or preference rows) and an encoder factory, for cutoff
    # questions (`encode` runs a list of them through an encoder: SFT rows or pairs)
    conversations = None  # list[Conversation] | list[Preference]
    encoder = None  # cutoff -> Encoder
    encode = None  # (encoder, rows) -> encoded / dropped

    def cutoff_effect(self, cutoff: int) -> dict[str, int]:
        """What training at this cutoff does to the kept rows: the longer ones run through the same encoder."""
        longer = [c for c, total in zip(self.conversations or [], self.totals, strict=True) if total > cutoff]
        encode = self.encode or (lambda encoder, rows: encoder.encode_many(rows))
        results = encode(self.encoder(cutoff), longer) if longer else []
        dropped = sum(1 for r in results if not hasattr(r, "truncated"))
        answer_cut = sum(1 for r in results if getattr(r, "truncated", "") == "answer")
        return {"cutoff": cutoff, "truncated": len(results) - dropped, "answer_cut": answer_cut, "dropped": dropped}

    def advice(self, lang: str) -> list[str]:
        n = self.kept
        share = "0.1–0.2" if n < 5000 else "0.05–0.1"
        lines = [render("advice.val_share", lang, rows=n, share=share)]
        if n < 1000:
            lines.append(render("advice.few_rows", lang, rows=n))
        longer = self.quality.get("chosen_longer", {}).get("count", 0)
        shorter = self.quality.get("chosen_shorter", {}).get("count", 0)
        if self.kind == "pairs" and n and max(longer, shorter) >= 0.8 * n:
            lines.append(render("advice.length_bias", lang, share=round(100 * max(longer, shorter) / n),
                                side=Both("longer", "长") if longer >= shorter else Both("shorter", "短")))
        good = self.quality.get("good", {}).get("count", 0)
        if self.kind == "kto" and n and not 0.1 <= good / n <= 0.9:
            lines.append(render("advice.kto_balance", lang, good=good, bad=n - good))
        if self.suggested_cutoff:
            p99 = self.lengths.get("total", {}).get("p99", 0)
            capped = self.context_limit is not None and self.suggested_cutoff == self.context_limit < p99
            lines.append(render("advice.cutoff_capped" if capped else "advice.cutoff", lang,
                                cutoff=self.suggested_cutoff, p99=p99))
        return lines

    def to_json(self) -> dict[str, Any]:
        out = asdict(self)
        for key in ("totals", "prompts") + (("side_cdf",) if not self.side_cdf else ()):
            out.pop(key)
        out["cdf"] = self.cdf[:: max(1, len(self.cdf) // 50)]
        out["advice"] = self.advice("en")
        return out


def _normal(text: str) -> str:
    return " ".join(text.lower().split())


def stats(values: list[int]) -> dict[str, int]:
    ordered = sorted(values)
    if not ordered:
        return {}
    stats = {f"p{p}": ordered[min(len(ordered) - 1, (len(ordered) * p + 99) // 100 - 1)] for p in PERCENTILES}
    return {**stats, "max": ordered[-1], "mean": round(sum(ordered) / len(ordered))}


def inspect(entry: DatasetEntry, data_dir: Path) -> Report:
    """Read every row once: conversion outcome and quality flags; the kept conversations stay on the report for
    token lengths (studio.encode.lengths adds them)."""
    report = Report(entry.name)
    reasons: Counter[str] = Counter()
    kept: list[tuple[int, Conversation]] = []
    seen: dict[str, int] = {}
    flags: dict[str, list[int]] = {"duplicate": [], "garbled": [], "short": [], "long": [], "missing_media": []}
    for record, result in converted(entry, data_dir):
        report.total += 1
        if isinstance(result, StudioError):
            reasons[result.key] += 1
            if len(report.dropped) < DROPPED_KEPT:
                report.dropped.append(Dropped(record.file, record.number, result.key, result.text("en"),
                                              result.text("zh")))
            continue
        kept.append((record.number, result))
        prompt, response = result.prompt_text(), result.response_text()
        key = _normal(prompt) + "\x00" + _normal(response)
        if key in seen:
            flags["duplicate"].append(record.number)
        else:
            seen[key] = record.number
        if GARBLED.search(prompt) or GARBLED.search(response):
            flags["garbled"].append(record.number)
        if result.kind == "chat" and len(response.strip()) <= SHORT_CHARS:
            flags["short"].append(record.number)
        if any(not (data_dir / p).exists() for p in (*result.images, *result.videos, *result.audios)):
            flags["missing_media"].append(record.number)
    report.kept = len(kept)
    report.dropped_by_reason = dict(reasons.most_common())
    sizes = [len(c.prompt_text()) + len(c.response_text()) for _, c in kept]
    median = sorted(sizes)[len(sizes) // 2] if sizes else 0
    flags["long"] = [n for (n, _), size in zip(kept, sizes, strict=True) if median and size > LONG_FACTOR * median]
    report.quality = {k: {"count": len(v), "rows": v[:EXAMPLES]} for k, v in flags.items()}
    report.conversations = [c for _, c in kept]
    return report


PAIR_FLAGS = ("identical", "empty_side", "duplicate", "garbled", "chosen_longer", "chosen_shorter")
KTO_FLAGS = ("duplicate", "garbled", "good", "bad")


def inspect_preferences(entry: DatasetEntry, data_dir: Path) -> Report:
    """A pair / KTO dataset read once: refusals by reason, and what a preference set goes wrong with: identical pairs
    and empty sides (refused, counted here), duplicates, and length bias (chosen longer or shorter than rejected, the
    classic DPO trap: the model learns "longer is better"); for KTO the good / bad balance."""
    from studio.data.preference import converted as pref_converted
    from studio.data.preference import kind

    report = Report(entry.name, kind=kind(entry))
    reasons: Counter[str] = Counter()
    flags: dict[str, list[int]] = {k: [] for k in (PAIR_FLAGS if report.kind == "pairs" else KTO_FLAGS)}
    kept, seen = [], set()
    for record, result in pref_converted(entry, data_dir):
        report.total += 1
        if isinstance(result, StudioError):
            reasons[result.key] += 1
            short = {"pref.identical": "identical", "pref.empty_side": "empty_side"}.get(result.key)
            if short in flags:
                flags[short].append(record.number)
            if len(report.dropped) < DROPPED_KEPT:
                report.dropped.append(Dropped(record.file, record.number, result.key, result.text("en"),
                                              result.text("zh")))
            continue
        kept.append(result)
        prompt = result.prompt.prompt_text() + "\n" + result.prompt.response_text()
        key = "\x00".join(_normal(t) for t in (prompt, result.chosen, result.rejected))
        if key in seen:
            flags["duplicate"].append(record.number)
        seen.add(key)
        if any(GARBLED.search(t) for t in (prompt, result.chosen, result.rejected)):
            flags["garbled"].append(record.number)
        if report.kind == "kto":
            flags["good" if result.desirable else "bad"].append(record.number)
        elif len(result.chosen) != len(result.rejected):
            flags["chosen_longer" if len(result.chosen) > len(result.rejected) else "chosen_shorter"].append(
                record.number)
    report.kept = len(kept)
    report.dropped_by_reason = dict(reasons.most_common())
    report.quality = {k: {"count": len(v), "rows": v[:EXAMPLES]} for k, v in flags.items()}
    report.conversations = kept
    return report
