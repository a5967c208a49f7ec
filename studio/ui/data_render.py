"""Pure functions that turn data results (row views, reports) into what the Data tab displays."""

from __future__ import annotations

import html
import json
from typing import Any

import pandas as pd

from studio.data.actions import RowView
from studio.data.registry import FORMATTINGS
from studio.data.report import Report
from studio.ui.i18n import STRINGS, t

PAGE = 20


def registry_frame(entries: list[dict[str, Any]], lang: str) -> pd.DataFrame:
    def state(e: dict[str, Any]) -> str:
        label = t(f"data.state.{e['state']}", lang)
        kind = "data.state.ranking" if e["ranking"] else "data.state.kto" if e.get("kto") else ""
        return f"{label} · {t(kind, lang)}" if kind else label
    rows = [[e["name"], e["formatting"], e["file"], state(e)] for e in entries]
    return pd.DataFrame(rows, columns=[t(f"data.col.{c}", lang) for c in ("name", "format", "file", "state")])


def mapping_markdown(mapping: dict[str, Any], lang: str) -> str:
    cols = " · ".join(f"{k} ← `{v}`" for k, v in mapping["columns"].items())
    tags = " · ".join(f"{k} = `{v}`" for k, v in mapping.get("tags", {}).items())
    parts = [f"**{t('data.effective', lang)}** {mapping['formatting']} · {cols}", tags]
    parts += [f"{t('data.fixes', lang)}: {', '.join(t(f'data.fix.{f}', lang) for f in mapping.get('fixes', []))}"
              ] if mapping.get("fixes") else []
    return "\n\n".join(html.escape(p, quote=False) for p in parts if p)


def formatting_choices(lang: str) -> list[tuple[str, str]]:
    return [(t(f"data.fmt.{f}", lang), f) for f in FORMATTINGS]


def chat_messages(view: RowView, lang: str) -> list[dict[str, Any]]:
    """Converted turns as chat bubbles; tool results and function calls are labelled, not hidden."""
    out: list[dict[str, Any]] = []
    for message in view.messages or []:
        role, content = message["role"], message["content"]
        if role in ("tool", "function"):
            label = t(f"data.role.{role}", lang)
            out.append({"role": "user" if role == "tool" else "assistant",
                        "content": f"**{label}**\n\n```\n{content}\n```"})
        elif role == "tools":  # the tool descriptions the prompt carries
            out.append({"role": "user", "content": f"**{t('data.map.tools', lang)}**\n\n```\n{content}\n```"})
        elif role == "system":  # a chat widget draws only two sides: the system prompt is a labelled bubble
            out.append({"role": "user", "content": f"**{t('data.map.system', lang)}**\n\n"
                                                   f"{html.escape(content, quote=False)}"})
        else:  # escaped: placeholders such as <image> are data to show, not HTML to render
            out.append({"role": role, "content": html.escape(content, quote=False)})
    return out


def _words(text: str) -> list[str]:
    """Words and the spaces after them; CJK characters one by one (they have no spaces to split on)."""
    import re

    return re.findall(r"[\u3040-\u30ff\u3400-\u9fff\uf900-\ufaff]|[^\s\u3040-\u30ff\u3400-\u9fff\uf900-\ufaff]+\s*|\s+",
                      text)


def diff_marks(chosen: str, rejected: str) -> tuple[str, str]:
    """Both answers as HTML with the words only one side has marked (difflib on words)."""
    import difflib

    a, b = _words(chosen), _words(rejected)
    left, right = [], []
    keys = ([w.strip() or " " for w in a], [w.strip() or " " for w in b])  # "help." and "help. " are the same word
    for op, i1, i2, j1, j2 in difflib.SequenceMatcher(None, *keys, autojunk=False).get_opcodes():
        one, other = html.escape("".join(a[i1:i2])), html.escape("".join(b[j1:j2]))
        if op == "equal":
            left.append(one)
            right.append(other)
        else:
            left.append(f'<mark class="studio-only-chosen">{one}</mark>' if one else "")
            right.append(f'<mark class="studio-only-rejected">{other}</mark>' if other else "")
    return "".join(left), "".join(right)


def pair_html(view: RowView, lang: str) -> str:
    """A preference row: chosen and rejected side by side (what only one of them says is marked), with their
    lengths; a KTO row: its one answer and whether it is tagged good or bad."""
    if view.kind == "kto":
        good = bool(view.chosen)
        answer = html.escape(view.chosen or view.rejected)
        label = t("data.pair.good" if good else "data.pair.bad", lang)
        return (f'<div class="studio-pair"><div class="studio-side studio-{"chosen" if good else "rejected"}">'
                f"<b>{label}</b><p>{answer}</p></div></div>")
    if view.kind != "pair":
        return ""
    left, right = diff_marks(view.chosen, view.rejected)
    sides = []
    for key, body, text in (("chosen", left, view.chosen), ("rejected", right, view.rejected)):
        size = t("data.pair.size", lang, chars=len(text))
        sides.append(f'<div class="studio-side studio-{key}"><b>{t(f"data.pair.{key}", lang)}</b> '
                     f"<small>{size}</small><p>{body}</p></div>")
    return f'<div class="studio-pair">{"".join(sides)}</div>'


def raw_json(row: dict[str, Any] | None) -> str:
    return "" if row is None else json.dumps(row, ensure_ascii=False, indent=2, default=str)


def row_outputs(views: list[RowView], row: int, lang: str) -> tuple[str, list[dict[str, Any]], str]:
    """(raw JSON, chat bubbles, status line) for one previewed row."""
    if not views:
        return "", [], t("data.row_past", lang, row=row)
    view = views[0]
    raw = raw_json(view.raw)
    if view.error is not None:
        status = t("data.row_bad", lang, file=view.file, row=view.row, reason=html.escape(view.error.text(lang)))
    elif view.kind in ("pair", "kto"):
        status = t(f"data.row_{view.kind}", lang, file=view.file, row=view.row)
    else:
        status = t("data.row_text" if view.kind == "text" else "data.row_ok", lang, file=view.file, row=view.row)
    return raw, chat_messages(view, lang), status


def report_summary(report: Report, lang: str) -> str:
    return t("data.kept", lang, kept=report.kept, total=report.total, dropped=report.total - report.kept)


def reasons_frame(report: Report, lang: str) -> pd.DataFrame:
    example = {}
    for d in report.dropped:
        example.setdefault(d.reason, d.text_zh if lang == "zh" else d.text_en)
    rows = [[t(f"reason.{key}", lang) if f"reason.{key}" in STRINGS else key, count, example.get(key, "")]
            for key, count in report.dropped_by_reason.items()]
    return pd.DataFrame(rows, columns=[t("data.col.reason", lang), t("data.col.count", lang),
                                       t("data.col.example", lang)])


def dropped_frame(report: Report, page: int, lang: str) -> pd.DataFrame:
    start = max(page - 1, 0) * PAGE
    rows = [[d.file, d.row, d.text_zh if lang == "zh" else d.text_en] for d in report.dropped[start:start + PAGE]]
    return pd.DataFrame(rows, columns=[t("data.col.file", lang), t("data.col.row", lang), t("data.col.reason", lang)])


def quality_frame(report: Report, lang: str) -> pd.DataFrame:
    rows = [[t(f"data.q.{flag}", lang), report.quality[flag]["count"],
             ", ".join(map(str, report.quality[flag]["rows"]))] for flag in report.quality]
    if report.kind == "sft":
        rows.append([t("data.q.empty", lang), report.dropped_by_reason.get("convert.empty", 0), ""])
    return pd.DataFrame(rows, columns=[t("data.col.flag", lang), t("data.col.count", lang),
                                       t("data.col.examples", lang)])


def lengths_frame(report: Report, lang: str) -> pd.DataFrame:
    stats = ("p50", "p90", "p95", "p99", "max", "mean")
    rows = [[t(f"data.part.{part}", lang), *(report.lengths[part][s] for s in stats)]
            for part in report.lengths if report.lengths[part]]
    heads = [t(f"data.stat.{s}", lang) if s in ("max", "mean") else s for s in stats]
    return pd.DataFrame(rows, columns=[t("data.col.part", lang), *heads])


def cdf_frame(report: Report, lang: str = "en") -> pd.DataFrame:
    """Share of rows at or below each length: whole rows, or for pairs the chosen and the rejected answers apart
    (two curves: a length bias shows as a gap between them)."""
    curves = report.side_cdf or {"total": report.cdf}
    rows = [(tokens, share, t(f"data.part.{side}", lang)) for side, cdf in curves.items() for tokens, share in cdf]
    return pd.DataFrame(rows, columns=["tokens", "share", "side"]).astype({"tokens": "int64", "share": "float64"})


def cutoff_text(report: Report, cutoff: int, lang: str) -> str:
    if not report.totals:
        return ""
    return t("data.cutoff_effect", lang, **report.cutoff_effect(cutoff))


def advice_markdown(report: Report, lang: str) -> str:
    return "\n".join(f"- {line}" for line in report.advice(lang))


def notes_markdown(notes: list[Any], lang: str) -> str:
    return "\n".join(f"- ⚠ {html.escape(n.text(lang))}" for n in notes)

