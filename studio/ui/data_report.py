"""The report sub-tab: kept / dropped by reason, dropped rows page by page, quality, token lengths, cutoff."""

from __future__ import annotations

from dataclasses import dataclass

import gradio as gr

from studio.data.report import Report
from studio.encode.lengths import inspect_dataset
from studio.ui import data_render
from studio.ui.context import Ctx, guarded
from studio.ui.i18n import t


@dataclass
class ReportHandles:
    select: gr.Dropdown


def _label(ctx: Ctx, component, key: str):
    return ctx.i18n(component, lambda lg: gr.update(label=t(key, lg)))


def build(ctx: Ctx, names: list[str]) -> ReportHandles:
    lang, ws = ctx.lang, ctx.ws
    models = ws.local_models()
    with gr.Row(equal_height=True):
        select = _label(ctx, gr.Dropdown(choices=names, value=names[0] if names else None,
                                         label=t("data.select", lang), elem_id="report-dataset"), "data.select")
        model = _label(ctx, gr.Dropdown(choices=models, value=models[0] if models else None, allow_custom_value=True,
                                        label=t("data.model", lang), elem_id="report-model"), "data.model")
        run = ctx.i18n(gr.Button(t("data.inspect", lang), variant="primary", elem_id="report-run", scale=0),
                       lambda lg: gr.update(value=t("data.inspect", lg)))
    state = gr.State(None)
    summary = gr.Markdown(elem_id="report-summary")
    with gr.Row():
        with gr.Column():
            reasons = _label(ctx, gr.Dataframe(label=t("data.reasons", lang), interactive=False, wrap=True,
                                               elem_id="report-reasons"), "data.reasons")
            quality = _label(ctx, gr.Dataframe(label=t("data.quality", lang), interactive=False, wrap=True,
                                               elem_id="report-quality"), "data.quality")
        with gr.Column():
            lengths = gr.Dataframe(label=t("data.lengths", lang, tokenizer="–"), interactive=False,
                                   elem_id="report-lengths")
            cdf = ctx.i18n(gr.LinePlot(x="tokens", y="share", color="side", label=t("data.cdf", lang), height=240,
                                       x_title=t("data.cdf_x", lang), y_title=t("data.cdf_y", lang),
                                       elem_id="report-cdf"),
                           lambda lg: gr.update(label=t("data.cdf", lg), x_title=t("data.cdf_x", lg),
                                                y_title=t("data.cdf_y", lg)))
    with gr.Row(equal_height=True):
        cutoff = _label(ctx, gr.Number(value=None, precision=0, label=t("data.cutoff", lang),
                                       elem_id="report-cutoff", scale=0, min_width=180), "data.cutoff")
        effect = gr.Markdown(elem_id="report-effect")
    advice = gr.Markdown(elem_id="report-advice")
    with gr.Accordion(t("data.dropped", lang), open=False, elem_id="report-dropped-box") as box:
        page = _label(ctx, gr.Number(value=1, precision=0, label=t("data.page", lang),
                                     elem_id="report-page", min_width=120), "data.page")
        dropped = gr.Dataframe(interactive=False, wrap=True, elem_id="report-dropped")
    ctx.i18n(box, lambda lg: gr.update(label=t("data.dropped", lg)))

    @guarded
    def inspect(lang: str, name: str | None, model_path: str | None):
        if not name:
            return [None] + [gr.update()] * 9
        model = ctx.model_dir(model_path) if model_path else None
        report = inspect_dataset(ws.data_dir, name, model)
        return [report, *render(lang, report), gr.update(value=report.suggested_cutoff), 1]

    def render(lang: str, report: Report | None) -> list:
        if report is None:
            return [gr.update()] * 7
        summary = data_render.report_summary(report, lang)
        if not report.tokenizer:
            summary += "\n\n" + t("data.no_tokenizer", lang)
        return [summary, data_render.reasons_frame(report, lang),
                data_render.quality_frame(report, lang),
                gr.update(value=data_render.lengths_frame(report, lang),
                          label=t("data.lengths", lang, tokenizer=report.tokenizer or "–")),
                data_render.cdf_frame(report, lang), data_render.advice_markdown(report, lang),
                data_render.dropped_frame(report, 1, lang)]

    @guarded
    def effect_of(lang: str, report: Report | None, value: float | None):
        return data_render.cutoff_text(report, int(value), lang) if report and value and value >= 1 else ""

    @guarded
    def page_of(lang: str, report: Report | None, number: float | None):
        return data_render.dropped_frame(report, max(int(number or 1), 1), lang) if report else gr.update()

    outputs = [summary, reasons, quality, lengths, cdf, advice, dropped]
    run.click(inspect, [ctx.lang_input, select, model], [state, *outputs, cutoff, page])
    cutoff.change(effect_of, [ctx.lang_input, state, cutoff], [effect], show_progress="hidden")
    page.change(page_of, [ctx.lang_input, state, page], [dropped], show_progress="hidden")
    ctx.lang_input.change(render, [ctx.lang_input, state], outputs).then(
        effect_of, [ctx.lang_input, state, cutoff], [effect])
    ctx.on_models(lambda lang, current: ctx.model_choices(current), [ctx.lang_input, model], [model])
    return ReportHandles(select)
