"""'What the model learns' for one row: trained text highlighted, masked text dimmed, tokens on demand."""

from __future__ import annotations

import html

import pandas as pd

from studio.core.messages import render
from studio.encode.learn import Learned
from studio.ui.i18n import t


def summary(learned: Learned, lang: str) -> str:
    if learned.dropped:
        return t("learn.dropped", lang, file=learned.file, row=learned.row, reason=render(learned.dropped, lang))
    line = t("learn.counts", lang, file=learned.file, row=learned.row, total=learned.total, trained=learned.trained,
             template=learned.template)
    return line + (" " + t(f"learn.truncated.{learned.truncated}", lang) if learned.truncated else "")


def text_html(learned: Learned) -> str:
    """Spans decoded from the trained / masked ids themselves: nothing here is re-rendered separately."""
    parts = [f'<span class="{"learn-t" if on else "learn-m"}">{html.escape(text)}</span>' for text, on in learned.spans]
    return f'<div class="learn-text" id="learn-text">{"".join(parts)}</div>' if parts else ""


def tokens_frame(learned: Learned, lang: str) -> pd.DataFrame:
    yes, no = t("learn.yes", lang), t("learn.no", lang)
    rows = [[i, repr(tok)[1:-1], tid, yes if on else no] for i, (tok, tid, on) in enumerate(learned.tokens)]
    return pd.DataFrame(rows, columns=["#", t("learn.col.token", lang), "id", t("learn.col.trained", lang)])
