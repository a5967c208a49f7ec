"""Export tab: a run's final weights or a checkpoint -> a merged model folder or the adapter alone, inside the
workspace, with progress and the lines that serve it. The work is studio.serve.export's."""

from __future__ import annotations

import html
from dataclasses import dataclass
from typing import Any

import gradio as gr

from studio.core.errors import StudioError
from studio.serve import export, gguf
from studio.serve import targets as chat_targets
from studio.ui.chat_tab import run_pickers
from studio.ui.context import Ctx, both_ways, guarded, said_text, stepwise
from studio.ui.i18n import t
from studio.ui.render import Bar

EXPORTS = "exports"
FORMATS = ("safetensors", *gguf.KINDS)  # a Hugging Face folder, or one GGUF file of that type


@dataclass
class ExportHandles:
    run: gr.Dropdown
    refresh: Any


def build(ctx: Ctx) -> ExportHandles:
    lang = ctx.lang

    def lab(component: Any, key: str) -> Any:
        return ctx.i18n(component, lambda lg: gr.update(label=t(key, lg)))

    ctx.i18n(gr.Markdown(t("export.intro", lang)), lambda lg: gr.update(value=t("export.intro", lg)))
    with gr.Row():
        run = lab(gr.Dropdown(choices=[], label=t("chat.run", lang), elem_id="export-run"), "chat.run")
        weights = lab(gr.Dropdown(choices=[], label=t("chat.weights", lang), elem_id="export-weights"),
                      "chat.weights")
    with gr.Row():
        fmt = lab(gr.Dropdown(choices=list(FORMATS), value=FORMATS[0], label=t("export.format", lang),
                              elem_id="export-format", scale=1), "export.format")
        merge = lab(gr.Checkbox(True, label=t("export.merge", lang), elem_id="export-merge"), "export.merge")
        out = lab(gr.Textbox(label=t("export.out", lang), elem_id="export-out", scale=3), "export.out")
        replace = lab(gr.Checkbox(False, label=t("export.replace", lang), elem_id="export-replace"),
                      "export.replace")
    start = ctx.i18n(gr.Button(t("export.start", lang), variant="primary", elem_id="export-start"),
                     lambda lg: gr.update(value=t("export.start", lg)))
    status = gr.Markdown(elem_id="export-status")
    status_said = ctx.said(status)
    serve = lab(gr.Code(language="shell", label=t("export.serve", lang), elem_id="export-serve", interactive=False),
                "export.serve")
    client = lab(gr.Code(language="python", label=t("export.client", lang), elem_id="export-client",
                         interactive=False), "export.client")

    refresh, on_run = run_pickers(ctx)

    def default_out(run_id: str | None, which: str | None, merged: bool, kind: str | None = None) -> str:
        if not run_id:
            return ""
        if kind in gguf.KINDS:
            return f"{EXPORTS}/{run_id}-{which or chat_targets.FINAL}-{kind}"
        return f"{EXPORTS}/{run_id}-{which or chat_targets.FINAL}{'' if merged else '-adapter'}"

    @guarded
    def on_start(lang: str, run_id: str | None, which: str | None, kind: str | None, merged: bool, folder: str,
                 overwrite: bool):
        if not run_id:  # nothing chosen (or the list not filled yet): said, nothing else changes
            said = both_ways(lambda lg: f"⚠ {t('export.no_run', lg)}")
            yield said[lang == "zh"], gr.update(), gr.update(), said
            return
        try:
            as_gguf = (kind or FORMATS[0]) != FORMATS[0]
            if as_gguf:
                gguf.check_kind(kind or "")  # the format, the K-quant command or the missing package, said first
            target = chat_targets.run_target(ctx.ws, run_id, which or chat_targets.FINAL)
            out = (folder or "").strip() or default_out(run_id, which, merged, kind)
            destination = export.browser_target(ctx.ws, out)
            export.check_target(destination, overwrite)  # before any weight is read
        except StudioError as err:  # a refusal: one sentence; the last export's snippets stay as they were
            said = both_ways(lambda lg, e=err: f"⚠ {html.escape(e.text(lg))}")
            yield said[lang == "zh"], gr.update(), gr.update(), said
            return
        yield "…", "", "", None

        def work(say: Any) -> export.Exported:
            if as_gguf:
                return gguf.export_gguf(target, destination, kind or "", overwrite, say,
                                        progress=lambda done, total: say(Bar(done, total)))
            return export.export(target, destination, merged, overwrite, say)

        for lines, done, finished in stepwise(work):
            bars = [line for line in lines if isinstance(line, Bar)]
            shown = [line for line in lines if not isinstance(line, Bar)]
            if bars and not finished:
                shown.append(bars[-1].text())
            said = both_ways(lambda lg, seen=shown: said_text(seen, lg))
            yield said[lang == "zh"], (done.serve if finished else ""), (done.client if finished else ""), said

    run.change(on_run, [ctx.lang_input, run], [weights], api_name="export_weights")
    for trigger in (run, weights, merge, fmt):
        trigger.change(default_out, [run, weights, merge, fmt], [out])
    fmt.change(lambda kind: gr.update(interactive=True) if kind == FORMATS[0] else gr.update(interactive=False,
                                                                                              value=True),
               [fmt], [merge])  # a GGUF is always of the merged weights
    start.click(on_start, [ctx.lang_input, run, weights, fmt, merge, out, replace], [status, serve, client, status_said],
                api_name="export")
    ctx.blocks.load(refresh, [ctx.lang_input, run], [run], api_name="export_runs")
    ctx.on_lang(refresh, [ctx.lang_input, run], [run])
    return ExportHandles(run, refresh)
