"""Evaluate tab: start an eval job (a run's weights, or a model folder with an adapter, on held-out rows or a
dataset), follow it, and read its results: scores base vs tuned with the difference, the chart, and the rows
side by side, sortable by where the tuning helped or hurt. The work is studio.serve.evaluate's, in a worker process."""

from __future__ import annotations

import html
from dataclasses import dataclass
from typing import Any

import gradio as gr
import pandas as pd

from studio.core.config import FIELDS
from studio.core.errors import StudioError
from studio.core.messages import render as sentence
from studio.core.rundir import ACTIVE_STATES, checkpoints
from studio.data.actions import dataset_choices
from studio.runs import evalplan
from studio.runs import manage as runs
from studio.runs.prepare import launch, prepare
from studio.serve import eval_report
from studio.serve import targets as chat_targets
from studio.ui import render
from studio.ui.context import Ctx, both_ways, guarded
from studio.ui.form import field_label
from studio.ui.i18n import t

PAGE_ROWS = 10
WIDTHS = {True: ("4%", "15%", "18%", "18%", "18%", "8%", "8%", "11%"), False: ("5%", "28%", "28%", "29%", "10%")}


@dataclass
class EvalHandles:
    job: gr.Dropdown
    refresh: Any  # the run, job and dataset lists read again (the tab opened)
    refresh_io: tuple[list[Any], list[Any]]


def eval_runs(ws: Any) -> list[str]:
    """Training runs that have weights to evaluate, or will have (still queued or training)."""
    out = []
    for info in runs.list_runs(ws):
        if runs.is_eval(info):
            continue
        if info.state in ACTIVE_STATES or chat_targets.weight_choices(ws, info.run_id):
            out.append(info.run_id)
    return out


def weight_options(ws: Any, run_id: str | None) -> list[str]:
    if not run_id:
        return []
    info = runs.get_run(ws, run_id)
    found = chat_targets.weight_choices(ws, run_id)
    if info.state in ACTIVE_STATES and evalplan.FINAL not in found:  # a run still training: its final weights later
        found = [evalplan.FINAL, *[c.name for c in reversed(checkpoints(info.path))]]
    return found


def eval_jobs(ws: Any) -> list[str]:
    return [i.run_id for i in runs.list_runs(ws) if runs.is_eval(i)]


def _fmt(value: Any, signed: bool = False) -> str:
    if value is None:
        return "–"
    return f"{value:+.2f}" if signed else f"{value:.2f}"


def scores_frame(res: eval_report.Results, lang: str) -> pd.DataFrame:
    """score | difference (tuned − base, with better / worse) | one column per weight set, base first."""
    width = len(res.targets)
    rows = []
    for row in eval_report.score_rows(res):
        cells = [t(f"eval.score.{row[0]}", lang)]
        if res.has_base:
            verdict = eval_report.better(row[0], row[-1])
            word = "" if verdict is None else f" ({t('eval.better' if verdict else 'eval.worse', lang)})"
            cells.append(_fmt(row[-1], signed=True) + word)
        rows.append(cells + [_fmt(v) for v in row[1:1 + width]])
    difference = [t("eval.col.difference", lang, main=res.main)] if res.has_base else []
    return pd.DataFrame(rows, columns=[t("eval.col.score", lang), *difference, *res.targets])


def rows_frame(shown: list[eval_report.Compared], has_base: bool, main: str, lang: str) -> pd.DataFrame:
    cols = ["index", "prompt", "reference", "base", "tuned", "base_score", "tuned_score", "difference"]
    rows = [[r.index + 1, r.prompt[:400], (r.label or "")[:400], (r.base or "")[:400], (r.tuned or "")[:400],
             _fmt(r.base_score), _fmt(r.tuned_score), _fmt(r.difference, signed=True)] for r in shown]
    if not has_base:
        keep = [0, 1, 2, 4, 6]
        cols, rows = [cols[i] for i in keep], [[row[i] for i in keep] for row in rows]
    return pd.DataFrame(rows, columns=[t(f"eval.col.{c}", lang, score=eval_report.ROW_SCORE, name=main, main=main)
                                       for c in cols])


def offered_markdown(res: eval_report.Results, lang: str) -> str:
    about = res.scores.get("about_key")
    lines = [f"**{html.escape(sentence(about, lang, **res.scores.get('about_fields', {})))}**"] if about else []
    for key, offer in (res.scores.get("offered") or {}).items():
        mark = "✓" if offer["on"] else "–"
        why = sentence(offer["why_key"], lang, **offer.get("why_fields", {})) if offer.get("why_key") else offer["why"]
        lines.append(f"{mark} {t('eval.offer_line', lang, name=t(f'eval.offer.{key}', lang), why=html.escape(why))}")
    if res.scores.get("prompts_cut"):
        lines.append(t("eval.prompts_cut", lang, n=res.scores["prompts_cut"]))
    return "\n\n".join(lines)


def build(ctx: Ctx) -> EvalHandles:
    lang = ctx.lang

    def lab(component: Any, key: str) -> Any:
        return ctx.i18n(component, lambda lg: gr.update(label=t(key, lg)))

    def schema(kind: Any, name: str, **kwargs: Any) -> Any:
        """A widget labelled and explained by the config schema (its help shown from the first draw on)."""
        label, info = field_label(name, lang)
        return ctx.i18n(kind(label=label, info=info, **kwargs),
                        lambda lg: gr.update(label=field_label(name, lg)[0], info=field_label(name, lg)[1]))

    def default(name: str) -> Any:
        return FIELDS[name].default

    ctx.i18n(gr.Markdown(t("eval.intro", lang)), lambda lg: gr.update(value=t("eval.intro", lg)))
    source_choices = lambda lg: [(t("chat.source_run", lg), "run"), (t("chat.source_model", lg), "model")]  # noqa: E731
    source = ctx.i18n(gr.Radio(source_choices(lang), value="run", label=t("eval.source", lang), elem_id="eval-source"),
                      lambda lg: gr.update(label=t("eval.source", lg), choices=source_choices(lg)))
    with gr.Row(visible=True) as run_row:
        run = lab(gr.Dropdown(choices=[], label=t("chat.run", lang), elem_id="eval-run"), "chat.run")
        weights = schema(gr.Dropdown, "eval_weights", choices=[], multiselect=True,
                                     elem_id="eval-weights")
    with gr.Row(visible=False) as model_row:
        model = schema(gr.Dropdown, "model_name_or_path", choices=ctx.ws.local_models(), allow_custom_value=True, elem_id="eval-model")
        adapter = ctx.i18n(gr.Dropdown(choices=["", *runs.start_points(ctx.ws)], value="", allow_custom_value=True,
                                       label=t("eval.adapter", lang), info=t("eval.adapter_help", lang),
                                       elem_id="eval-adapter"),
                           lambda lg: gr.update(label=t("eval.adapter", lg), info=t("eval.adapter_help", lg)))
        template = schema(gr.Dropdown, "template", choices=list(FIELDS["template"].metadata["choices"]), value="chatml", elem_id="eval-template")
    with gr.Row():
        base = schema(gr.Checkbox, "eval_base", value=default("eval_base"), elem_id="eval-base")
        dataset = schema(gr.Dropdown, "eval_dataset", choices=[("", "")], value="",
                                     elem_id="eval-dataset")
        samples = schema(gr.Number, "max_samples", value=default("max_samples"), precision=0,
                                   elem_id="eval-max-samples")
    with gr.Accordion(t("eval.settings", lang), open=False, elem_id="eval-settings") as settings_box:
        with gr.Row():
            new_tokens = schema(gr.Number, "max_new_tokens", value=default("max_new_tokens"), precision=0, elem_id="eval-max-new-tokens")
            batch = schema(gr.Number, "per_device_eval_batch_size", value=default("per_device_eval_batch_size"), precision=0, elem_id="eval-batch")
            temperature = schema(gr.Number, "temperature", value=default("temperature"), elem_id="eval-temperature")
            top_p = schema(gr.Number, "top_p", value=default("top_p"), elem_id="eval-top-p")
        with gr.Row():
            sql_dir = schema(gr.Textbox, "sql_db_dir", elem_id="eval-sql-dir")
            sql_timeout = schema(gr.Number, "sql_timeout_s", value=default("sql_timeout_s"), elem_id="eval-sql-timeout")
    ctx.i18n(settings_box, lambda lg: gr.update(label=t("eval.settings", lg)))
    start = ctx.i18n(gr.Button(t("eval.start", lang), variant="primary", elem_id="eval-start"),
                     lambda lg: gr.update(value=t("eval.start", lg)))
    message = gr.Markdown(elem_id="eval-message")
    message_said = ctx.said(message)
    with gr.Row(equal_height=True):
        job = lab(gr.Dropdown(choices=[], label=t("eval.job", lang), elem_id="eval-job", scale=3), "eval.job")
        abort = ctx.i18n(gr.Button(t("runs.abort", lang), elem_id="eval-abort", scale=0, min_width=120,
                                   interactive=False),
                         lambda lg: gr.update(value=t("runs.abort", lg)))
    progress = gr.HTML(elem_id="eval-progress")
    offered = gr.Markdown(elem_id="eval-offered")
    scores = gr.Dataframe(interactive=False, elem_id="eval-scores", visible=False)
    chart = gr.Plot(elem_id="eval-chart", show_label=False, visible=False)
    drawn = gr.State("")
    with gr.Row(equal_height=True):
        sort_choices = lambda lg: [(t(f"eval.sort.{s}", lg), s) for s in eval_report.SORTS]  # noqa: E731
        sort = ctx.i18n(gr.Dropdown(sort_choices(lang), value="worse", label=t("eval.sort", lang), elem_id="eval-sort"),
                        lambda lg: gr.update(label=t("eval.sort", lg), choices=sort_choices(lg)))
        query = lab(gr.Textbox(label=t("eval.filter", lang), elem_id="eval-filter"), "eval.filter")
        page = lab(gr.Number(1, precision=0, label=t("eval.page", lang), elem_id="eval-page"), "eval.page")
    page_note = gr.Markdown(elem_id="eval-page-note")
    table = gr.Dataframe(interactive=False, wrap=True, elem_id="eval-rows", column_widths=list(WIDTHS[True]),
                         visible=False)
    timer = gr.Timer(1.0)

    @guarded
    def refresh(lang: str, current_run: str | None, current_job: str | None, current_dataset: str | None,
                chosen: str = "run"):
        ids, jobs = eval_runs(ctx.ws), eval_jobs(ctx.ws)
        held = [] if chosen == "model" else [(t("eval.held_out", lang), "")]
        datasets = held + [(d, d) for d in dataset_choices(ctx.ws.data_dir)]
        return (gr.update(choices=ids, value=current_run if current_run in ids else (ids[0] if ids else None),
                          info="" if ids else t("chat.no_runs", lang)),
                gr.update(choices=jobs, value=current_job if current_job in jobs else (jobs[0] if jobs else None)),
                gr.update(choices=datasets, value=current_dataset if current_dataset in [d for _, d in datasets]
                          else datasets[0][1] if datasets else None),
                gr.update(choices=ctx.ws.local_models()), gr.update(choices=["", *runs.start_points(ctx.ws)]))

    @guarded
    def on_run(lang: str, run_id: str | None):
        choices = weight_options(ctx.ws, run_id)
        return gr.update(choices=choices, value=choices[:1])

    @guarded
    def on_start(lang: str, source: str, run_id: str | None, names: list[str] | None, with_base: bool,
                 on: str | None, limit: float | None, tokens: float | None, size: float | None, temp: float | None,
                 p: float | None, sql: str | None, sql_s: float | None, model_name: str | None,
                 adapter_name: str | None, template_name: str | None):
        values: dict[str, Any] = {
            "stage": "eval", "eval_base": bool(with_base), "eval_dataset": on or "",
            "max_samples": limit, "max_new_tokens": tokens, "per_device_eval_batch_size": size,
            "temperature": temp, "top_p": p, "sql_db_dir": (sql or "").strip(), "sql_timeout_s": sql_s,
            "trust_remote_code": ctx.ws.trust_remote_code}
        if source == "model":
            values |= {"model_name_or_path": model_name or "", "adapter_name_or_path": (adapter_name or "").strip(),
                       "template": template_name or "chatml"}
        else:
            values |= {"eval_run": run_id or "", "eval_weights": ",".join(names or [])}
        values = {k: int(v) if isinstance(v, float) and v.is_integer() and str(FIELDS[k].type) == "int" else v
                  for k, v in values.items() if v is not None}
        prepared = prepare(ctx.ws, values, source="form", from_browser=True)
        if not prepared.ok:
            said = both_ways(lambda lg: render.issues_markdown(prepared.issues, lg))
            return said[lang == "zh"], said, gr.update()
        run_dir = launch(ctx.ws, prepared)
        state = runs.run_status(run_dir).get("state")

        def text(lg: str) -> str:
            head = t("eval.queued" if state == "queued" else "eval.started", lg, run=run_dir.name)
            return "\n\n".join(filter(None, [head, render.issues_markdown(prepared.issues, lg)]))
        said = both_ways(text)
        return said[lang == "zh"], said, gr.update(choices=eval_jobs(ctx.ws), value=run_dir.name)

    @guarded
    def show(lang: str, job_id: str | None, order: str, text: str, number: float | None, shown: str):
        hidden = gr.update(visible=False)
        if not job_id or job_id not in eval_jobs(ctx.ws):
            return "", "", hidden, hidden, shown, "", hidden, gr.update(), gr.update(interactive=False)
        info = runs.get_run(ctx.ws, job_id)
        res = eval_report.read(info.path)
        key = f"{job_id}|{info.state}|{len(res.lines)}|{bool(res.scores)}|{lang}"
        figure: Any = hidden
        if res.scores:
            from studio.ui import charts

            figure = gr.update() if key == shown else gr.update(value=charts.eval_figure(
                eval_report.score_rows(res), res.targets, eval_report.checkpoint_curve(res), eval_report.ROW_SCORE,
                lang), visible=True)
        rows, count, pages = eval_report.page_rows(eval_report.compared(res), order or "order", text or "",
                                                   int(number or 1), PAGE_ROWS)
        at = min(max(1, int(number or 1)), pages)
        note = t("eval.page_note", lang, count=count, page=at, pages=pages) if res.lines else ""
        head = t("eval.job_line", lang, job=html.escape(job_id), state=render.state_label(info.state, lang),
                 run=html.escape(str(info.status.get("eval_run") or info.status.get("model") or "")))
        if info.status.get("error"):
            head += f"\n\n{t('runs.error', lang)}: `{info.status['error']}`"
        return (head + "\n\n" + offered_markdown(res, lang), render.progress_html(info.status, lang),
                gr.update(value=scores_frame(res, lang), visible=True) if res.scores else hidden, figure, key, note,
                gr.update(value=rows_frame(rows, res.has_base, res.main, lang), visible=True,
                          column_widths=list(WIDTHS[res.has_base])) if rows else hidden,
                gr.update(value=at) if at != number else gr.update(),
                gr.update(interactive=info.state in ACTIVE_STATES))

    @guarded
    def on_abort(lang: str, job_id: str | None):
        if not job_id:
            return gr.update()
        try:
            runs.abort(ctx.ws, job_id)
        except StudioError as err:
            return f"⚠ {err.text(lang)}"
        return t("eval.aborting", lang, run=job_id)

    run.change(on_run, [ctx.lang_input, run], [weights], api_name="eval_weights")
    @guarded
    def on_source(lang: str, chosen: str, current: str | None):
        """A model folder has no held-out rows: its dataset list starts with the registered datasets."""
        names = dataset_choices(ctx.ws.data_dir)
        held = [] if chosen == "model" else [(t("eval.held_out", lang), "")]
        value = current if current in names else ("" if held else (names[0] if names else None))
        return (gr.update(visible=chosen == "run"), gr.update(visible=chosen == "model"),
                gr.update(choices=held + [(d, d) for d in names], value=value))

    source.change(on_source, [ctx.lang_input, source, dataset], [run_row, model_row, dataset],
                  show_progress="hidden")
    start.click(on_start, [ctx.lang_input, source, run, weights, base, dataset, samples, new_tokens, batch,
                           temperature, top_p, sql_dir, sql_timeout, model, adapter, template],
                [message, message_said, job], api_name="eval_start")
    show_inputs = [ctx.lang_input, job, sort, query, page, drawn]
    show_outputs = [offered, progress, scores, chart, drawn, page_note, table, page, abort]
    for trigger in (job, sort, query, page):
        trigger.change(show, show_inputs, show_outputs, show_progress="hidden")
    timer.tick(show, show_inputs, show_outputs, show_progress="hidden")
    abort.click(on_abort, [ctx.lang_input, job], [message])
    refresh_io = ([ctx.lang_input, run, job, dataset, source], [run, job, dataset, model, adapter])
    ctx.on_load(refresh, *refresh_io)
    ctx.on_lang(show, show_inputs, show_outputs)
    return EvalHandles(job, refresh, refresh_io)
