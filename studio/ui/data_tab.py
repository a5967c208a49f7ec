"""Data tab: the registered datasets, their raw rows, and one row as the conversation the model sees."""

from __future__ import annotations

import json
from dataclasses import dataclass

import gradio as gr
import pandas as pd

from studio.data.load import load_dataset
from studio.data.registry import load_registry
from studio.ui.context import Ctx, guarded
from studio.ui.i18n import t

PREVIEW_ROWS = 50


@dataclass
class DataHandles:
    table: gr.Dataframe
    select: gr.Dropdown


def registry_frame(ctx: Ctx, lang: str) -> pd.DataFrame:
    entries = load_registry(ctx.ws.registry_file)
    rows = [[n, e.formatting, e.file_name, t(f"data.state.{e.state(ctx.ws.data_dir)}", lang)] for n, e in entries.items()]
    return pd.DataFrame(rows, columns=[t(f"data.col.{c}", lang) for c in ("name", "format", "file", "state")])


def _cell(value: object) -> str:
    return value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)


def build(ctx: Ctx) -> DataHandles:
    lang = ctx.lang
    names = list(load_registry(ctx.ws.registry_file))
    ctx.i18n(gr.Markdown(t("data.registry", lang)), lambda lg: gr.update(value=t("data.registry", lg)))
    table = gr.Dataframe(registry_frame(ctx, lang), interactive=False, elem_id="data-list")
    select = ctx.i18n(gr.Dropdown(choices=names, value=names[0] if names else None, label=t("data.select", lang),
                                  elem_id="data-select"), lambda lg: gr.update(label=t("data.select", lg)))
    summary = gr.Markdown(elem_id="data-summary")
    with gr.Row():
        raw = ctx.i18n(gr.Dataframe(label=t("data.raw", lang), interactive=False, wrap=True, max_height=420,
                                    elem_id="data-raw", scale=3), lambda lg: gr.update(label=t("data.raw", lg)))
        with gr.Column(scale=2):
            row = ctx.i18n(gr.Number(value=1, minimum=1, precision=0, label=t("data.row", lang), elem_id="data-row"),
                           lambda lg: gr.update(label=t("data.row", lg)))
            conv = ctx.i18n(gr.Chatbot(label=t("data.conv", lang), height=360, elem_id="data-conv"),
                            lambda lg: gr.update(label=t("data.conv", lg)))

    @guarded
    def preview(lang: str, name: str | None, number: float | None):
        if not name:
            return None, [], ""
        loaded = load_dataset(ctx.ws.registry_file, name, limit=PREVIEW_ROWS)
        columns = list(dict.fromkeys(k for r in loaded.rows for k in r))
        frame = pd.DataFrame([[_cell(r.get(c, "")) for c in columns] for r in loaded.rows], columns=columns)
        index = min(max(int(number or 1), 1), max(len(loaded.conversations), 1)) - 1
        messages = loaded.conversations[index].as_messages() if loaded.conversations else []
        notes = [t("data.summary", lang, shown=len(loaded.rows), problems=len(loaded.problems))]
        notes += [f"- {p.text(lang)}" for p in loaded.problems[:10]]
        return frame, messages, "\n".join(notes)

    def refresh(lang: str):
        names = list(load_registry(ctx.ws.registry_file))
        return registry_frame(ctx, lang), gr.update(choices=names)

    inputs = [ctx.lang_input, select, row]
    select.change(preview, inputs, [raw, conv, summary])
    row.change(preview, inputs, [raw, conv, summary])
    ctx.i18n(table, lambda lg: registry_frame(ctx, lg))
    ctx.blocks.load(refresh, [ctx.lang_input], [table, select]).then(preview, inputs, [raw, conv, summary])
    return DataHandles(table, select)
