"""The row viewer shared by the registered-dataset list and the mapping form: a pager with "row N of M", the raw
row beside what it converts to, and the row's images."""

from __future__ import annotations

import html
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import gradio as gr

from studio.data import actions
from studio.ui import data_render
from studio.ui.context import Ctx
from studio.ui.i18n import t


@dataclass
class Viewer:
    """Row paging plus the raw row beside its conversion (used for registered and unsaved mappings)."""
    row: gr.Number
    status: gr.Markdown
    raw: gr.Code
    conv: gr.Chatbot
    images: gr.Gallery
    pair: gr.HTML  # a preference row: prompt, chosen and rejected side by side, their differences marked

    @property
    def outputs(self) -> list[gr.components.Component]:
        return [self.raw, self.conv, self.status, self.row, self.images, self.pair]


def clamp(number: float | None, total: int | None = None) -> int:
    """A pager value as a row number in 1..total (an emptied or negative box means row 1)."""
    try:
        row = int(number or 1)
    except (TypeError, ValueError, OverflowError):
        row = 1
    row = max(row, 1)
    return min(row, total) if total else row


def shown(data_dir: Path, views: list[actions.RowView], number: float | None, total: int, lang: str
          ) -> list[Any]:
    """The viewer's outputs for the (clamped) row: raw, bubbles, "row N of M" status, row box, thumbnails."""
    row = clamp(number, total)
    raw, bubbles, status = data_render.row_outputs(views, row, lang)
    names = views[0].images if views else ()
    pictures = [(img, name, full) for name, (img, full) in zip(names, actions.thumbnails(data_dir, names),
                                                               strict=True)]
    missing = [name for img, name, _ in pictures if img is None]
    status = f"{t('data.row_of', lang, row=row, total=total)} · {status}"
    if missing:
        status += "\n\n" + t("data.images_missing", lang, files=", ".join(missing))
    strip = thumbnail_html([p for p in pictures if p[0] is not None])
    pair = data_render.pair_html(views[0], lang) if views else ""
    return [raw, bubbles, status, gr.update(value=row) if row != number else gr.update(),
            gr.update(value=strip, visible=bool(strip)), gr.update(value=pair, visible=bool(pair))]


def thumbnail_html(pictures: list[tuple[Any, str, tuple[int, int]]]) -> str:
    """The row's images as small inline JPEGs with their file names (nothing is served from the data folder)."""
    import base64
    import io

    cells = []
    for img, name, (width, height) in pictures:
        buf = io.BytesIO()
        img.save(buf, "JPEG", quality=80)
        data = base64.b64encode(buf.getvalue()).decode("ascii")
        cells.append(f'<figure class="studio-thumb"><img src="data:image/jpeg;base64,{data}" alt="">'
                     f"<figcaption>{html.escape(name)} · {width}×{height}</figcaption></figure>")
    return f'<div class="studio-thumbs">{"".join(cells)}</div>' if cells else ""


def empty_view(status: str = "") -> list[Any]:
    return ["", [], status, gr.update(), gr.update(value=None, visible=False), gr.update(value="", visible=False)]


def viewer(ctx: Ctx, prefix: str) -> Viewer:
    lang = ctx.lang
    with gr.Row(equal_height=False, elem_classes="studio-pager"):
        prev = ctx.i18n(gr.Button(t("data.prev", lang), size="sm", elem_id=f"{prefix}-prev", scale=0, min_width=100),
                        lambda lg: gr.update(value=t("data.prev", lg)))
        # no minimum here: Gradio's own range message would replace ours; the callbacks clamp instead
        row = ctx.i18n(gr.Number(value=1, precision=0, label=t("data.row", lang), elem_id=f"{prefix}-row",
                                 scale=0, min_width=120), lambda lg: gr.update(label=t("data.row", lg)))
        nxt = ctx.i18n(gr.Button(t("data.next", lang), size="sm", elem_id=f"{prefix}-next", scale=0, min_width=100),
                       lambda lg: gr.update(value=t("data.next", lg)))
        status = gr.Markdown(elem_id=f"{prefix}-status")
    with gr.Row(equal_height=True):
        raw = ctx.i18n(gr.Code(language="json", label=t("data.raw", lang), max_lines=24, wrap_lines=True,
                               elem_id=f"{prefix}-raw", interactive=False),
                       lambda lg: gr.update(label=t("data.raw", lg)))
        conv = ctx.i18n(gr.Chatbot(label=t("data.conv", lang), height=420, elem_id=f"{prefix}-conv",
                                   autoscroll=False),  # a row is read from its first turn
                        lambda lg: gr.update(label=t("data.conv", lg)))
    pair = gr.HTML(visible=False, elem_id=f"{prefix}-pair")
    images = gr.HTML(visible=False, elem_id=f"{prefix}-images")
    prev.click(lambda n: max(1, clamp(n) - 1), [row], [row], show_progress="hidden")
    nxt.click(lambda n: clamp(n) + 1, [row], [row], show_progress="hidden")  # the view clamps it to the last row
    return Viewer(row, status, raw, conv, images, pair)
