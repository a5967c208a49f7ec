"""Assembles the six tabs, the language switch and the cross-tab wiring into one Gradio app."""

from __future__ import annotations

import gradio as gr

from studio.core.workspace import REPO_ROOT, Workspace
from studio.runs import manage as runs
from studio.train.demo import demo_model_ready, demo_progress
from studio.ui import chat_tab, data_tab, eval_tab, export_tab, models_tab, runs_tab, train_tab
from studio.ui.context import Ctx, both_ways, guarded
from studio.ui.i18n import t

CSS_PATH = REPO_ROOT / "assets" / "studio.css"
LANGS = [("English", "en"), ("中文", "zh")]
LANG_KEY = "studio-lang"  # where the browser keeps the chosen language (its localStorage)


def demo_banner(ws: Workspace, lang: str) -> str:
    """While the demo model is built: a bar with the stage and warm-up step its builder last wrote."""
    if demo_model_ready(ws):
        return ""
    seen = demo_progress(ws) or {"stage": "start", "step": 0, "total": 0}
    step, total = int(seen.get("step") or 0), int(seen.get("total") or 0)
    pct = int(100 * step / total) if total and seen.get("stage") == "warmup" else (100 if seen.get("stage") == "save" else 0)
    text = t(f"app.demo.{seen.get('stage', 'start')}", lang, step=step, total=total)
    return (f'<div class="studio-progress" id="demo-progress"><div class="studio-progress-bar" style="width:{pct}%">'
            f'</div><span class="studio-progress-text">{t("app.demo_pending", lang)} {text}</span></div>')


def build_app(ws: Workspace, lang: str = "en") -> gr.Blocks:
    # uploads are copied into data/ at once; Gradio's temp copies go after a day (and at every start)
    with gr.Blocks(title="Fine-tuning studio", delete_cache=(3600, 86400)) as blocks:
        with gr.Row(equal_height=True, elem_id="app-head"):
            title = gr.Markdown(t("app.title", lang), elem_id="app-title")
            lang_radio = gr.Radio(choices=LANGS, value=lang, label=t("app.lang", lang), elem_id="lang",
                                  container=False, scale=0, min_width=200)
        models_seen = gr.State(demo_model_ready(ws))
        ctx = Ctx(ws=ws, lang=lang, blocks=blocks, lang_input=lang_radio, models_seen=models_seen)
        ctx.i18n(title, lambda lg: gr.update(value=t("app.title", lg)))
        ctx.i18n(lang_radio, lambda lg: gr.update(label=t("app.lang", lg)))
        banner = gr.HTML(demo_banner(ws, lang), elem_id="app-banner", visible=not demo_model_ready(ws))
        with gr.Tabs(elem_id="tabs") as tabs:
            with gr.Tab(t("tab.data", lang), id="data", elem_id="tab-data") as tab_data:
                data_tab.build(ctx)
            with gr.Tab(t("tab.train", lang), id="train", elem_id="tab-train") as tab_train:
                train = train_tab.build(ctx)
            with gr.Tab(t("tab.runs", lang), id="runs", elem_id="tab-runs") as tab_runs:
                runs_h = runs_tab.build(ctx)
            with gr.Tab(t("tab.chat", lang), id="chat", elem_id="tab-chat") as tab_chat:
                chat_h = chat_tab.build(ctx)
            with gr.Tab(t("tab.eval", lang), id="eval", elem_id="tab-eval") as tab_eval:
                eval_h = eval_tab.build(ctx)
            with gr.Tab(t("tab.export", lang), id="export", elem_id="tab-export") as tab_export:
                export_h = export_tab.build(ctx)
            with gr.Tab(t("tab.models", lang), id="models", elem_id="tab-models") as tab_models:
                models_tab.build(ctx)
        for tab, key in ((tab_data, "tab.data"), (tab_train, "tab.train"), (tab_runs, "tab.runs"),
                         (tab_chat, "tab.chat"), (tab_export, "tab.export"), (tab_eval, "tab.eval"),
                         (tab_models, "tab.models")):
            ctx.i18n(tab, lambda lg, k=key: gr.update(label=t(k, lg)))

        def started(lang: str, preset: str, *values: object):
            said, run_id = train.on_start(lang, preset, *values)
            message = said[lang == "zh"]
            if run_id is None:
                return message, gr.update(), gr.update(), said, gr.update()
            ids = [r.run_id for r in runs.list_runs(ws)]
            return message, gr.update(choices=ids, value=run_id), gr.Tabs(selected="runs"), said, run_id

        train.start.click(started, [lang_radio, train.preset, *train.form.components],
                          [train.result, runs_h.select, tabs, train.result_said, runs_h.want], api_name="train_start")
        @guarded
        def copied(lang: str, run_id: str | None):
            if not run_id:
                return [gr.update(), gr.update(), *[gr.update() for _ in train.form.components], gr.update()]
            said = both_ways(lambda lg: t("runs.copied", lg, run=run_id))
            return [said[lang == "zh"], said, *train.values_of(run_id), gr.Tabs(selected="train")]

        runs_h.copy.click(copied, [lang_radio, runs_h.select],
                          [train.result, train.result_said, *train.form.components, tabs])
        tab_chat.select(chat_h.refresh, [lang_radio, chat_h.run], [chat_h.run])
        tab_export.select(export_h.refresh, [lang_radio, export_h.run], [export_h.run])
        tab_eval.select(eval_h.refresh, *eval_h.refresh_io)
        tab_train.select(train.refresh, [lang_radio],  # a dataset registered in the Data tab is offered at once
                         [train.form.widgets["model_name_or_path"], train.form.widgets["dataset"],
                          train.form.widgets["adapter_name_or_path"]])

        demo_timer = gr.Timer(1.0, active=not demo_model_ready(ws))

        def demo_check(lang: str):
            ready = demo_model_ready(ws)  # models_seen turning True refreshes every model list
            return gr.update(value=demo_banner(ws, lang), visible=not ready), gr.Timer(active=not ready), ready

        demo_timer.tick(demo_check, [lang_radio], [banner, demo_timer, models_seen], show_progress="hidden")
        # labels switch at once: outside the queue, not behind the texts recomputed in the new language
        lang_radio.change(lambda lg: [fn(lg) for _, fn in ctx.relabels], [lang_radio],
                          [block for block, _ in ctx.relabels], queue=False, show_progress="hidden")
        lang_radio.change(None, [lang_radio], None, js=f"(lg) => {{ localStorage.setItem('{LANG_KEY}', lg); return lg; }}")
        ctx.on_lang(lambda lg: demo_banner(ws, lg), [lang_radio], [banner])

        def restore(saved: str | None):
            return saved if saved in dict(LANGS).values() and saved != lang else gr.update()

        restored = blocks.load(restore, [lang_radio], [lang_radio], show_progress="hidden", queue=False,
                               js=f"(current) => localStorage.getItem('{LANG_KEY}') || current")
        for fn, inputs, outputs in ctx.loads:  # after the restore: each sees the page's language
            restored.then(fn, inputs, outputs, show_progress="hidden")
    return blocks
