"""'What the model learns' for one row: trained text highlighted, masked text dimmed, tokens on demand."""

from __future__ import annotations

import html
import re

import pandas as pd

from studio.core.messages import render
from studio.encode.learn import Learned
from studio.model.vision import IMAGE_PAD, VISION_END, VISION_START
from studio.ui.i18n import t


def summary(learned: Learned, lang: str) -> str:
    if learned.dropped:
        return t("learn.dropped", lang, file=learned.file, row=learned.row,
                 reason=render(learned.dropped, lang, detail=learned.detail))
    line = t("learn.counts", lang, file=learned.file, row=learned.row, total=learned.total, trained=learned.trained,
             template=learned.template)
    if learned.side:
        line = t(f"learn.side.{learned.side}", lang) + " " + line
    if learned.other is not None:
        line += " " + t("learn.side.rejected", lang) + " " + t("learn.counts_other", lang, total=learned.other.total,
                                                               trained=learned.other.trained)
    return line + (" " + t(f"learn.truncated.{learned.truncated}", lang) if learned.truncated else "")


IMAGE_RUN = re.compile(f"{re.escape(VISION_START)}(?:{re.escape(IMAGE_PAD)})+{re.escape(VISION_END)}")


def text_html(learned: Learned, lang: str = "en") -> str:
    """Spans decoded from the trained / masked ids themselves: nothing here is re-rendered separately. An image's
    run of tokens is one chip: the file, how many tokens, and the size the model sees it at."""
    if learned.side:  # a preference row: each sequence under its own heading
        views = [learned] + ([learned.other] if learned.other is not None else [])
        return "".join(f'<div class="learn-side learn-side-{v.side}"><b>{t(f"learn.side.{v.side}", lang)}</b>'
                       f"{_spans_html(v, lang, n == 0)}</div>" for n, v in enumerate(views))
    return _spans_html(learned, lang)


def _spans_html(learned: Learned, lang: str, first: bool = True) -> str:
    images = iter(learned.images)

    def chip(match: re.Match[str]) -> str:
        image = next(images, None)
        count = match.group().count(IMAGE_PAD)
        label = t("learn.image", lang, name=image["name"], tokens=count, width=image["size"][0],
                  height=image["size"][1]) if image else f"×{count}"
        return f'<span class="learn-img" title="{html.escape(match.group()[:80])}…">{html.escape(label)}</span>'

    parts = []
    for text, on in learned.spans:
        pieces, last = [], 0
        for match in IMAGE_RUN.finditer(text):
            pieces.append(html.escape(text[last:match.start()]) + chip(match))
            last = match.end()
        pieces.append(html.escape(text[last:]))
        parts.append(f'<span class="{"learn-t" if on else "learn-m"}">{"".join(pieces)}</span>')
    anchor = ' id="learn-text"' if first else ""  # one element per page carries the id
    return f'<div class="learn-text"{anchor}>{"".join(parts)}</div>' if parts else ""


def tokens_frame(learned: Learned, lang: str) -> pd.DataFrame:
    yes, no = t("learn.yes", lang), t("learn.no", lang)
    views = [learned] + ([learned.other] if learned.other is not None else [])
    rows = [[v.side and t(f"learn.side.{v.side}", lang), i, repr(tok)[1:-1], tid, yes if on else no]
            for v in views for i, (tok, tid, on) in enumerate(v.tokens)]
    side = t("learn.col.side", lang)
    frame = pd.DataFrame(rows, columns=[side, "#", t("learn.col.token", lang), "id", t("learn.col.trained", lang)])
    return frame if learned.side else frame.drop(columns=side)
