"""The row viewer shared by the registered-dataset list and the mapping form: a pager with "row N of M", the raw
row beside what it converts to, and the row's images."""

from __future__ import annotations

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

    @property
    def outputs(self) -> list[gr.components.Component]:
        return [self.raw, self.conv, self.status, self.row, self.images]


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
    pictures = actions.thumbnails(data_dir, views[0].images) if views and views[0].images else []
    missing = [name for img, name in pictures if img is None]
    status = f"{t('data.row_of', lang, row=row, total=total)} · {status}"
    if missing:
        status += "\n\n" + t("data.images_missing", lang, files=", ".join(missing))
    gallery = [(img, name) for img, name in pictures if img is not None]
    return [raw, bubbles, status, gr.update(value=row) if row != number else gr.update(),
            gr.update(value=gallery or None, visible=bool(gallery))]


def empty_view(status: str = "") -> list[Any]:
    return ["", [], status, gr.update(), gr.update(value=None, visible=False)]


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
        conv = ctx.i18n(gr.Chatbot(label=t("data.conv", lang), height=420, elem_id=f"{prefix}-conv"),
                        lambda lg: gr.update(label=t("data.conv", lg)))
    images = ctx.i18n(gr.Gallery(label=t("data.images", lang), visible=False, columns=6, height=180,
                                 object_fit="contain", elem_id=f"{prefix}-images", interactive=False),
                      lambda lg: gr.update(label=t("data.images", lg)))
    prev.click(lambda n: max(1, clamp(n) - 1), [row], [row], show_progress="hidden")
    nxt.click(lambda n: clamp(n) + 1, [row], [row], show_progress="hidden")  # the view clamps it to the last row
    return Viewer(row, status, raw, conv, images)
