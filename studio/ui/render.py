"""Pure functions that turn studio results into what the tabs display (tables, markdown, HTML)."""

from __future__ import annotations

import html
import time
from dataclasses import dataclass
from typing import Any

import pandas as pd

from studio.core.config import Issue
from studio.core.messages import Both
from studio.runs.manage import RunInfo, losses
from studio.ui.i18n import STRINGS, t


def duration(seconds: float | None) -> str:
    if seconds is None:
        return "–"
    seconds = int(seconds)
    return f"{seconds // 3600}:{seconds // 60 % 60:02d}:{seconds % 60:02d}" if seconds >= 3600 else \
        f"{seconds // 60}:{seconds % 60:02d}"


@dataclass(frozen=True)
class Bar:
    """Bytes done of a total, shown as a text progress bar with speed and time left once `seconds` is known."""
    done: int
    total: int
    seconds: float = 0.0

    def text(self) -> Both:
        part = min(1.0, self.done / self.total) if self.total else 0.0
        filled = round(part * 24)
        line = f"`{'█' * filled}{'░' * (24 - filled)}` {part:.0%} · {self.done / 2**20:.1f} / {self.total / 2**20:.1f} MiB"
        if self.seconds >= 0.5 and self.done:
            speed = self.done / self.seconds
            left = duration(max(0.0, self.total - self.done) / speed)
            return Both(f"{line} · {speed / 2**20:.1f} MiB/s · {left} left", f"{line} · {speed / 2**20:.1f} MiB/s · 剩余 {left}")
        return Both(line, line)


def state_label(state: str, lang: str) -> str:
    key = f"state.{state}"
    return t(key, lang) if key.split(".")[1] in ("queued", "running", "finished", "failed", "aborted") else state


def train_time(status: dict[str, Any], state: str) -> float | None:
    """Time spent training over every segment (the first start and each resume), the running one included."""
    done = float(status.get("train_seconds") or 0)
    started, finished = status.get("started_at"), status.get("finished_at")
    if state == "running" and started:
        return done + time.time() - started
    if done:
        return done
    return finished - started if started and finished and finished >= started else None


def runs_table(infos: list[RunInfo], lang: str) -> pd.DataFrame:
    cols = ["run", "state", "model", "dataset", "preset", "started", "duration", "loss", "eval"]
    rows = []
    for info in infos:
        s = info.status
        begun = s.get("first_started_at") or s.get("started_at") or s.get("created_at")
        loss, best = losses(info.path)
        kind = t("runs.eval_kind", lang, run=s.get("eval_run") or s.get("model", "")) if s.get("stage") == "eval" \
            else s.get("preset", "")
        rows.append([info.run_id, state_label(info.state, lang), s.get("model", ""), s.get("dataset", ""), kind,
                     time.strftime("%m-%d %H:%M", time.localtime(begun)) if begun else "",
                     duration(train_time(s, info.state)), "" if loss is None else f"{loss:.4f}",
                     "" if best is None else f"{best:.4f}"])
    return pd.DataFrame(rows, columns=[t(f"runs.col.{c}", lang) for c in cols])


def progress_html(status: dict[str, Any], lang: str) -> str:
    step, total = int(status.get("step") or 0), int(status.get("max_steps") or 0)
    pct = 100 if status.get("state") == "finished" else (int(100 * step / total) if total else 0)
    eta = duration(status.get("eta_s")) if status.get("state") == "running" else "–"
    kind = "runs.progress_eval" if status.get("stage") == "eval" else "runs.progress"  # an eval job counts answers
    text = t(kind, lang, step=step, total=total or "?", pct=pct, eta=eta)
    return (f'<div class="studio-progress" data-state="{html.escape(str(status.get("state")))}">'
            f'<div class="studio-progress-bar" style="width:{pct}%"></div>'
            f'<span class="studio-progress-text">{html.escape(text)}</span></div>')


def status_markdown(info: RunInfo, command: str, lang: str) -> str:
    s = info.status
    lines = [f"**{html.escape(info.run_id)}** · {state_label(info.state, lang)}"]
    if s.get("started_from"):  # the lineage: this run continued an earlier adapter
        lines.append(t("runs.started_from", lang, adapter=html.escape(str(s["started_from"]))))
    if s.get("stage") == "eval":
        lines.append(t("runs.eval_of", lang, run=html.escape(str(s.get("eval_run") or s.get("model") or ""))))
    if s.get("error"):
        error = s["error"]
        if lang == "zh" and s.get("error_key"):
            from studio.core.messages import render

            error = render(s["error_key"], "zh", **s.get("error_fields", {}))
        lines.append(f"{t('runs.error', lang)}: `{error}`")
    lines.append(f"{t('runs.command', lang)}: `{command}`")
    if s.get("memory"):  # the worker's memory by phase: where a run's peak comes from
        phases = " · ".join(f"{_phase(str(p.get('phase')), lang)} {float(p.get('peak_mb') or 0):,.0f}"
                            + (f" (GPU {float(p['gpu_peak_mb']):,.0f})" if p.get("gpu_peak_mb") else "")
                            for p in s["memory"] if isinstance(p, dict))
        lines.append(t("runs.memory", lang, phases=phases, peak=f"{float(s.get('peak_rss_mb') or 0):,.0f}"))
    return "\n\n".join(lines)


def _phase(name: str, lang: str) -> str:
    key = f"runs.phase.{name}"
    return t(key, lang) if key in STRINGS else html.escape(name)


def worst_note(status: dict[str, Any], ranked: list[dict[str, Any]], lang: str) -> str:
    """Above the worst rows: how many rows were ranked, or for a preference run how many it still gets wrong."""
    wrong = status.get("still_wrong")
    if isinstance(wrong, dict):
        kind = "kto" if status.get("stage") == "kto" else "dpo"
        if not wrong.get("count"):
            return t(f"runs.still_wrong_none.{kind}", lang, of=wrong.get("of", 0))
        return t(f"runs.still_wrong.{kind}", lang, n=wrong.get("count", 0), of=wrong.get("of", 0), listed=len(ranked))
    return t("runs.worst_none", lang) if not ranked else t("runs.ranked", lang, n=ranked[0]["ranked_of"])


def worst_frame(ranked: list[dict[str, Any]], lang: str) -> pd.DataFrame:
    if ranked and "margin" in ranked[0]:  # a preference run: the pairs (answers) it still prefers wrongly
        cols = ["rank", "margin", "source", "chosen", "rejected", "text"]  # the answers before the long prompt
        rows = [[r["rank"], f"{r['margin']:.3f}", r["source"], r["answer"][:300],
                 r["rejected"][:300] if r["stage"] == "dpo" else t("runs.tag.good" if r["good"] else "runs.tag.bad", lang),
                 r["text"][-300:]] for r in ranked]
        return pd.DataFrame(rows, columns=[t(f"runs.col.{c}", lang) for c in cols])
    cols = ["rank", "row_loss", "source", "answer", "text"]
    rows = [[r["rank"], f"{r['loss']:.3f}", r["source"], r["answer"][:300], r["text"][:600]] for r in ranked]
    return pd.DataFrame(rows, columns=[t(f"runs.col.{c}", lang) for c in cols])


def differences_frame(diff: dict[str, list[Any]], runs: list[str], lang: str) -> pd.DataFrame:
    rows = [[name, *(str(v) for v in values)] for name, values in diff.items()]
    return pd.DataFrame(rows, columns=[t("runs.col.field", lang), *runs])


def _text(issue: Issue, lang: str) -> str:
    """An issue as Markdown: its values (file names, <image> placeholders) shown, not rendered as HTML."""
    return html.escape(issue.text(lang), quote=False)


def issues_markdown(issues: list[Issue], lang: str) -> str:
    errors = [i for i in issues if i.level == "error"]
    warnings = [i for i in issues if i.level == "warning"]
    parts = []
    if errors:
        parts.append(t("train.blocked", lang) + "\n" + "\n".join(f"- ⚠ {_text(i, lang)}" for i in errors))
    if warnings:
        parts.append(t("train.warnings", lang) + "\n" + "\n".join(f"- {_text(i, lang)}" for i in warnings))
    return "\n\n".join(parts)
