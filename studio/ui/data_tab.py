"""Data tab: registered datasets with a raw ⇄ converted row viewer, the mapping form, and the report."""

from __future__ import annotations

import html
from dataclasses import dataclass
from typing import Any

import gradio as gr

from studio.core.config import FIELDS
from studio.core.errors import StudioError
from studio.data import actions
from studio.encode.encoder import Options
from studio.encode.learn import learn_row, proposed_template
from studio.templates.named import TEMPLATE_NAMES
from studio.ui import data_add, data_render, data_report, learn_panel
from studio.ui.context import Ctx, guarded
from studio.ui.data_viewer import clamp, empty_view, shown, viewer
from studio.ui.i18n import t


@dataclass
class LearnBox:
    model: gr.Dropdown
    template: gr.Dropdown
    cutoff: gr.Number
    show: gr.Checkbox
    summary: gr.Markdown
    text: gr.HTML
    tokens: gr.Dataframe


def learn_box(ctx: Ctx, prefix: str = "learn") -> LearnBox:
    """Model, template and cutoff for the view of what the model learns from the row above."""
    lang = ctx.lang
    models = ctx.ws.local_models()  # filled again on every page load (the demo model may come later)
    with gr.Accordion(t("learn.title", lang), open=True, elem_id=f"{prefix}-box") as box:
        ctx.i18n(gr.Markdown(t("learn.help", lang)), lambda lg: gr.update(value=t("learn.help", lg)))
        with gr.Row(equal_height=True):
            model = ctx.i18n(gr.Dropdown(choices=models, value=models[0] if models else None, allow_custom_value=True,
                                         label=t("data.model", lang), elem_id=f"{prefix}-model"),
                             lambda lg: gr.update(label=t("data.model", lg)))
            template = ctx.i18n(gr.Dropdown(choices=list(TEMPLATE_NAMES), value="chatml", label=t("learn.template", lang),
                                            elem_id=f"{prefix}-template"),
                                lambda lg: gr.update(label=t("learn.template", lg)))
            cutoff = ctx.i18n(gr.Number(value=FIELDS["cutoff_len"].default, precision=0, label=t("data.cutoff", lang),
                                        elem_id=f"{prefix}-cutoff"), lambda lg: gr.update(label=t("data.cutoff", lg)))
            show = ctx.i18n(gr.Checkbox(value=False, label=t("learn.show_tokens", lang), elem_id=f"{prefix}-show"),
                            lambda lg: gr.update(label=t("learn.show_tokens", lg)))
        summary = gr.Markdown(elem_id=f"{prefix}-summary")
        text = gr.HTML(elem_id=f"{prefix}-html")
        tokens = gr.Dataframe(visible=False, interactive=False, max_height=320, elem_id=f"{prefix}-tokens")
    ctx.i18n(box, lambda lg: gr.update(label=t("learn.title", lg)))
    return LearnBox(model, template, cutoff, show, summary, text, tokens)


@dataclass
class DataHandles:
    table: gr.Dataframe
    select: gr.Dropdown
    registered: gr.Button  # the mapping form's Save: other tabs refresh their dataset lists after it


def entries(ctx: Ctx) -> list[dict]:
    """The registry's rows; an unreadable registry shows as empty here and as its sentence on page load."""
    try:
        return actions.list_entries(ctx.ws.data_dir)
    except StudioError:
        return []


def dataset_names(ctx: Ctx) -> list[str]:
    return [e["name"] for e in entries(ctx)]


def build(ctx: Ctx) -> DataHandles:
    lang = ctx.lang
    names = dataset_names(ctx)
    with gr.Tabs(elem_id="data-tabs"):
        with gr.Tab(t("data.sub.list", lang), id="data-list-tab", elem_id="data-list-tab") as tab_list:
            ctx.i18n(gr.Markdown(t("data.registry", lang)), lambda lg: gr.update(value=t("data.registry", lg)))
            table = gr.Dataframe(data_render.registry_frame(entries(ctx), lang),
                                 interactive=False, max_height=260, elem_id="data-list")
            select = ctx.i18n(gr.Dropdown(choices=names, value=names[0] if names else None,
                                          label=t("data.select", lang), elem_id="data-select"),
                              lambda lg: gr.update(label=t("data.select", lg)))
            mapping = gr.Markdown(elem_id="data-mapping")
            view = viewer(ctx, "data")
            learn = learn_box(ctx)
        with gr.Tab(t("data.sub.add", lang), id="data-add-tab", elem_id="data-add-tab") as tab_add:
            add = data_add.build(ctx, lambda: viewer(ctx, "map"))
        with gr.Tab(t("data.sub.report", lang), id="data-report-tab", elem_id="data-report-tab") as tab_report:
            report = data_report.build(ctx, names)
    for tab, key in ((tab_list, "data.sub.list"), (tab_add, "data.sub.add"), (tab_report, "data.sub.report")):
        ctx.i18n(tab, lambda lg, k=key: gr.update(label=t(k, lg)))

    @guarded
    def show(lang: str, name: str | None, number: float | None):
        if not name:
            return empty_view()
        try:
            total = actions.row_total(ctx.ws.data_dir, name)
            items, _ = actions.preview(ctx.ws.data_dir, name, clamp(number, total) - 1, 1)
        except StudioError as err:  # a missing or unreadable file: said where the row would be
            return empty_view(f"⚠ {html.escape(err.text(lang))}")
        return shown(ctx.ws.data_dir, actions.row_views(items), number, total, lang)

    @guarded
    def refresh(lang: str, current: str | None):
        entries = actions.list_entries(ctx.ws.data_dir)
        names = [e["name"] for e in entries]
        value = current if current in names else (names[0] if names else None)
        return data_render.registry_frame(entries, lang), gr.update(choices=names, value=value), \
            gr.update(choices=names)

    @guarded
    def describe(lang: str, name: str | None):
        try:
            return data_render.mapping_markdown(actions.effective_mapping(ctx.ws.data_dir, name), lang) if name else ""
        except StudioError as err:
            return f"⚠ {html.escape(err.text(lang))}"

    inputs = [ctx.lang_input, select, view.row]
    select.change(lambda: 1, None, [view.row], show_progress="hidden").then(show, inputs, view.outputs).then(
        describe, [ctx.lang_input, select], [mapping])
    view.row.change(show, inputs, view.outputs, show_progress="hidden")

    @guarded
    def learned(lang: str, name: str | None, number: float | None, model: str | None, template: str | None,
                cutoff: float | None, show_tokens: bool):
        if not name:
            return "", "", gr.update(visible=False)
        if not (model and template):
            return t("learn.no_model", lang), "", gr.update(visible=False)
        try:
            total = actions.row_total(ctx.ws.data_dir, name)
            result = learn_row(ctx.ws.data_dir, name, clamp(number, total), ctx.model_dir(model), template,
                               Options(max(1, clamp(cutoff or FIELDS['cutoff_len'].default))),
                               ctx.ws.trust_remote_code)
        except StudioError as err:  # the row itself is unusable: the viewer above says why, so does this
            return err.text(lang), "", gr.update(visible=False)
        return (learn_panel.summary(result, lang), learn_panel.text_html(result, lang),
                gr.update(value=learn_panel.tokens_frame(result, lang) if show_tokens else None, visible=show_tokens))

    @guarded
    def propose(lang: str, model: str | None):  # a refused model is said here; the view below (.then) says it too
        return gr.update(value=proposed_template(ctx.model_dir(model), ctx.ws.trust_remote_code)) if model else \
            gr.update()

    @guarded
    def models_then_learned(lang: str, name: str | None, number: float | None, current: str | None, *rest: Any):
        update = ctx.model_choices(current)
        return [update, *learned.__wrapped__(lang, name, number, update["value"], *rest)]

    learn_inputs = [ctx.lang_input, select, view.row, learn.model, learn.template, learn.cutoff, learn.show]
    learn_outputs = [learn.summary, learn.text, learn.tokens]
    for trigger in (select, view.row, learn.template, learn.cutoff, learn.show, ctx.lang_input):
        trigger.change(learned, learn_inputs, learn_outputs, show_progress="hidden")
    # a new model proposes its template; the view follows even when the template stays the same
    learn.model.change(propose, [ctx.lang_input, learn.model], [learn.template], show_progress="hidden").then(
        learned, learn_inputs, learn_outputs, show_progress="hidden")
    ctx.on_models(models_then_learned, learn_inputs, [learn.model, *learn_outputs])
    ctx.i18n(table, lambda lg: data_render.registry_frame(entries(ctx), lg))
    ctx.on_load(refresh, [ctx.lang_input, select], [table, select, report.select])
    ctx.on_load(show, inputs, view.outputs)
    ctx.on_load(describe, [ctx.lang_input, select], [mapping])
    ctx.on_lang(show, inputs, view.outputs)
    ctx.on_lang(describe, [ctx.lang_input, select], [mapping])
    tab_list.select(refresh, [ctx.lang_input, select], [table, select, report.select])
    tab_add.select(*add.refresh(), show_progress="hidden")  # files copied into data/ meanwhile are offered
    add.saved.then(refresh, [ctx.lang_input, add.name], [table, select, report.select])
    return DataHandles(table, select, add.save)
