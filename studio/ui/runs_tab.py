"""Runs tab: every run read back from its folder on a timer: table, progress, curves, log, worst rows, actions,
and a comparison of several runs."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import gradio as gr

from studio.data import actions
from studio.runs import manage as runs
from studio.ui import render
from studio.ui.context import Ctx, both_ways, guarded
from studio.ui.data_viewer import thumbnail_html
from studio.ui.i18n import t

REFRESH_S = 1.0
WORST_PICTURES = 20  # the worst rows whose pictures are shown under the table (as many as it lists by default)


def _charts() -> Any:
    """matplotlib loads with the first chart drawn, not with the app (~0.6 s of start-up)."""
    from studio.ui import charts

    return charts


@dataclass
class RunsHandles:
    select: gr.Dropdown
    want: gr.State  # set to a run the page should show (Start sets it to the new run)
    copy: gr.Button
    message: gr.Markdown


def _button(ctx: Ctx, key: str, elem_id: str, variant: str = "secondary") -> gr.Button:
    return ctx.i18n(gr.Button(t(key, ctx.lang), variant=variant, elem_id=elem_id, scale=1, min_width=100),
                    lambda lg: gr.update(value=t(key, lg)))


def build(ctx: Ctx) -> RunsHandles:
    lang = ctx.lang
    timer = gr.Timer(REFRESH_S)
    ctx.i18n(gr.Markdown(t("runs.table", lang)), lambda lg: gr.update(value=t("runs.table", lg)))
    table = gr.Dataframe(render.runs_table([], lang), interactive=False, elem_id="runs-table", max_height=260)
    with gr.Row(equal_height=True):
        select = ctx.i18n(gr.Dropdown(choices=[], label=t("runs.select", lang), elem_id="runs-select", scale=4),
                          lambda lg: gr.update(label=t("runs.select", lg)))
        abort = _button(ctx, "runs.abort", "runs-abort", "stop")
        resume = _button(ctx, "runs.resume", "runs-resume")
        copy = _button(ctx, "runs.copy", "runs-copy")
        delete = _button(ctx, "runs.delete", "runs-delete")
    pending = gr.State(None)  # the run a Delete click asks about: the confirmation deletes that one, by name
    with gr.Row(visible=False, elem_id="runs-confirm") as confirm_row:
        confirm_text = gr.Markdown(elem_id="runs-confirm-text")
        confirm = ctx.i18n(gr.Button(t("runs.delete_yes", lang), variant="stop", elem_id="runs-delete-yes", scale=0,
                                     min_width=160), lambda lg: gr.update(value=t("runs.delete_yes", lg)))
        cancel = ctx.i18n(gr.Button(t("runs.delete_no", lang), elem_id="runs-delete-no", scale=0, min_width=120),
                          lambda lg: gr.update(value=t("runs.delete_no", lg)))
    message = gr.Markdown(elem_id="runs-message")
    message_said = ctx.said(message)
    status = gr.Markdown(t("runs.none", lang), elem_id="runs-status")
    progress = gr.HTML(elem_id="runs-progress")
    log_scale = ctx.i18n(gr.Checkbox(value=False, label=t("runs.log_scale", lang), elem_id="runs-log-scale"),
                         lambda lg: gr.update(label=t("runs.log_scale", lg)))
    curves = gr.Plot(elem_id="runs-curves", show_label=False)
    drawn = gr.State("")  # what this browser's chart shows: redrawn only when that changes
    logbox = ctx.i18n(gr.Textbox(label=t("runs.log", lang), lines=12, max_lines=20, autoscroll=True,
                                 elem_id="runs-log"), lambda lg: gr.update(label=t("runs.log", lg)))
    with gr.Accordion(t("runs.worst", lang), open=False, elem_id="runs-worst-box") as worst_box:
        worst_note = gr.Markdown(elem_id="runs-worst-note")
        worst = gr.Dataframe(interactive=False, wrap=True, max_height=400, elem_id="runs-worst")
        worst_pictures = gr.HTML(elem_id="runs-worst-pictures")
    ctx.i18n(worst_box, lambda lg: gr.update(label=t("runs.worst", lg)))
    with gr.Accordion(t("runs.compare", lang), open=False, elem_id="runs-compare-box") as compare_box:
        pick = ctx.i18n(gr.Dropdown(choices=[], multiselect=True, label=t("runs.compare_pick", lang),
                                    elem_id="runs-compare-pick"), lambda lg: gr.update(label=t("runs.compare_pick", lg)))
        compare_plot = gr.Plot(elem_id="runs-compare-plot", show_label=False)
        compare_note = gr.Markdown(elem_id="runs-compare-note")
        compare_table = gr.Dataframe(interactive=False, elem_id="runs-compare-table")
    ctx.i18n(compare_box, lambda lg: gr.update(label=t("runs.compare", lg)))

    want = gr.State(None)  # the run this page asked for (picked, or just started): a timer tick never overrules it

    def worst_thumbnails(ranked: list[dict]) -> str:
        """The worst rows' pictures (a vision run), small and inline, captioned with their rank."""
        shown = [(r["rank"], p) for r in ranked[:WORST_PICTURES] for p in r.get("images") or []]
        if not shown:
            return ""
        small = actions.thumbnails(ctx.ws.data_dir, tuple(p for _, p in shown), size=96)
        return thumbnail_html([(img, f"#{rank} {Path(p).name}", full) for (rank, p), (img, full)
                               in zip(shown, small, strict=True) if img is not None])

    @guarded
    def tick(lang: str, selected: str | None, log: bool, shown: str = "", wanted: str | None = None):
        infos = runs.list_runs(ctx.ws)
        ids = [i.run_id for i in infos]
        chosen = next((r for r in (wanted, selected) if r in ids), ids[0] if ids else None)
        if chosen is None:
            return (render.runs_table([], lang), gr.update(choices=[], value=None), t("runs.none", lang), "",
                    None, "", "", t("runs.worst_none", lang), None, "", gr.update(choices=[]),
                    *(gr.update(interactive=False) for _ in range(4)))
        info = next(i for i in infos if i.run_id == chosen)
        seen = runs.details(info)
        ranked = seen.worst
        key = f"{chosen}|{seen.stamp}|{len(ranked)}|{log}|{lang}"  # the worst rows arrive after the last metric
        figure = gr.update() if key == shown else (None if runs.is_eval(info)  # its results: the Evaluate tab
                                                   else _charts().run_figure(seen.metrics, lang, log))
        worst_note = render.worst_note(info.status, ranked, lang)
        can = runs.actions_for(info)  # what applies to this run's state: the rest is greyed out
        return (render.runs_table(infos, lang), gr.update(choices=ids, value=chosen),
                render.status_markdown(info, seen.command, lang), render.progress_html(info.status, lang),
                figure, key, seen.log, worst_note, gr.update(value=render.worst_frame(ranked, lang) if ranked else None, visible=bool(ranked)),
                gr.update() if key == shown else worst_thumbnails(ranked), gr.update(choices=ids), *(gr.update(interactive=name in can)
                                          for name in ("abort", "resume", "copy", "delete")))

    @guarded
    def on_abort(lang: str, selected: str | None, log: bool, shown: str):
        if selected:
            runs.abort(ctx.ws, selected)
        return "", *tick(lang, selected, log, shown)

    @guarded
    def on_resume(lang: str, selected: str | None, log: bool, shown: str):
        if selected:
            runs.resume(ctx.ws, selected)
        return "", *tick(lang, selected, log, shown)

    @guarded
    def ask_delete(lang: str, selected: str | None):
        if not selected:
            return None, gr.update(visible=False), ""
        return selected, gr.update(visible=True), t("runs.delete_ask", lang, run=selected)

    @guarded
    def on_delete(lang: str, asked: str | None, log: bool, shown: str):
        if asked:
            runs.delete(ctx.ws, asked)
        said = both_ways(lambda lg: t("runs.deleted", lg, run=asked) if asked else "")
        return (said[lang == "zh"], said, None, gr.update(visible=False), None, *tick(lang, None, log, ""))

    @guarded
    def on_compare(lang: str, picked: list[str] | None):
        present = {i.run_id for i in runs.list_runs(ctx.ws)}
        picked = [r for r in picked or [] if r in present]  # a run deleted meanwhile leaves the comparison
        infos = [runs.get_run(ctx.ws, r) for r in picked]
        metrics = {i.run_id: runs.details(i).metrics for i in infos}
        diff = runs.config_differences({i.run_id: runs.load_config(i) for i in infos})
        note = t("runs.compare_same", lang) if len(infos) > 1 and not diff else ""
        figure = _charts().compare_figure(metrics, lang) if infos else None
        return figure, note, render.differences_frame(diff, picked, lang)

    outputs = [table, select, status, progress, curves, drawn, logbox, worst_note, worst, worst_pictures, pick,
               abort, resume, copy, delete]
    inputs = [ctx.lang_input, select, log_scale, drawn]
    timer.tick(tick, [*inputs, want], outputs, show_progress="hidden")
    select.input(lambda lang, selected, log, shown: (selected, *tick(lang, selected, log, shown)), inputs,
                 [want, *outputs], show_progress="hidden")
    log_scale.change(tick, inputs, outputs, show_progress="hidden")
    abort.click(on_abort, inputs, [message, *outputs])
    resume.click(on_resume, inputs, [message, *outputs])
    delete.click(ask_delete, [ctx.lang_input, select], [pending, confirm_row, confirm_text])
    compare_outputs = [compare_plot, compare_note, compare_table]
    confirm.click(on_delete, [ctx.lang_input, pending, log_scale, drawn],
                  [message, message_said, pending, confirm_row, want, *outputs]).then(
        on_compare, [ctx.lang_input, pick], compare_outputs)
    cancel.click(lambda: (None, gr.update(visible=False)), None, [pending, confirm_row])
    select.input(lambda: (None, gr.update(visible=False)), None, [pending, confirm_row])
    pick.change(on_compare, [ctx.lang_input, pick], compare_outputs)
    ctx.on_lang(on_compare, [ctx.lang_input, pick], compare_outputs)
    ctx.on_load(tick, inputs, outputs)
    return RunsHandles(select, want, copy, message)
