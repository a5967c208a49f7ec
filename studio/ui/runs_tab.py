"""Runs tab: every run read back from its folder, refreshed by a timer: table, progress, loss curve, log, Abort."""

from __future__ import annotations

from dataclasses import dataclass

import gradio as gr

from studio import runs
from studio.rundir import COMMAND_FILE, log_tail, read_metrics
from studio.ui import render
from studio.ui.context import Ctx, guarded
from studio.ui.i18n import t

REFRESH_S = 1.0


@dataclass
class RunsHandles:
    select: gr.Dropdown


def build(ctx: Ctx) -> RunsHandles:
    lang = ctx.lang
    timer = gr.Timer(REFRESH_S)
    ctx.i18n(gr.Markdown(t("runs.table", lang)), lambda lg: gr.update(value=t("runs.table", lg)))
    table = gr.Dataframe(render.runs_table([], lang), interactive=False, elem_id="runs-table", max_height=260)
    with gr.Row():
        select = ctx.i18n(gr.Dropdown(choices=[], label=t("runs.select", lang), elem_id="runs-select", scale=3),
                          lambda lg: gr.update(label=t("runs.select", lg)))
        abort = ctx.i18n(gr.Button(t("runs.abort", lang), variant="stop", elem_id="runs-abort", scale=1),
                         lambda lg: gr.update(value=t("runs.abort", lg)))
    status = gr.Markdown(t("runs.none", lang), elem_id="runs-status")
    progress = gr.HTML(elem_id="runs-progress")
    with gr.Row():
        loss = ctx.i18n(gr.LinePlot(x="step", y="loss", label=t("runs.loss", lang), elem_id="runs-loss", scale=3,
                                    height=300), lambda lg: gr.update(label=t("runs.loss", lg)))
        logbox = ctx.i18n(gr.Textbox(label=t("runs.log", lang), lines=14, max_lines=20, autoscroll=True,
                                     elem_id="runs-log", scale=2), lambda lg: gr.update(label=t("runs.log", lg)))

    @guarded
    def tick(lang: str, selected: str | None):
        infos = runs.list_runs(ctx.ws)
        ids = [i.run_id for i in infos]
        chosen = selected if selected in ids else (ids[0] if ids else None)
        if chosen is None:
            return render.runs_table([], lang), gr.update(choices=[], value=None), t("runs.none", lang), "", None, ""
        info = next(i for i in infos if i.run_id == chosen)
        command = (info.path / COMMAND_FILE).read_text(encoding="utf-8").strip()
        metrics, _ = read_metrics(info.path)
        return (render.runs_table(infos, lang), gr.update(choices=ids, value=chosen),
                render.status_markdown(info, command, lang), render.progress_html(info.status, lang),
                render.loss_frame(metrics), log_tail(info.path, 12))

    @guarded
    def on_abort(lang: str, selected: str | None):
        if selected:
            runs.abort(ctx.ws, selected)
        return tick(lang, selected)

    outputs = [table, select, status, progress, loss, logbox]
    timer.tick(tick, [ctx.lang_input, select], outputs, show_progress="hidden")
    select.input(tick, [ctx.lang_input, select], outputs, show_progress="hidden")
    abort.click(on_abort, [ctx.lang_input, select], outputs)
    ctx.blocks.load(tick, [ctx.lang_input, select], outputs)
    return RunsHandles(select)
