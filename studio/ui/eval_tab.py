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
WIDTHS = {True: ("4%", "17%", "20%", "20%", "20%", "6%", "6%", "7%"), False: ("5%", "30%", "30%", "30%", "5%")}


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
    width = len(res.targets)
    rows = []
    for row in eval_report.score_rows(res):
        cells = [t(f"eval.score.{row[0]}", lang), *(_fmt(v) for v in row[1:1 + width])]
        if res.has_base:
            verdict = eval_report.better(row[0], row[-1])
            mark = "" if verdict is None else (" ▲" if verdict else " ▼")
            cells.append(_fmt(row[-1], signed=True) + mark)
        rows.append(cells)
    cols = [t("eval.col.score", lang), *res.targets] + ([t("eval.col.difference", lang)] if res.has_base else [])
    return pd.DataFrame(rows, columns=cols)


def rows_frame(shown: list[eval_report.Compared], has_base: bool, lang: str) -> pd.DataFrame:
    cols = ["index", "prompt", "reference", "base", "tuned", "base_score", "tuned_score", "difference"]
    rows = [[r.index + 1, r.prompt[:400], (r.label or "")[:400], (r.base or "")[:400], (r.tuned or "")[:400],
             _fmt(r.base_score), _fmt(r.tuned_score), _fmt(r.difference, signed=True)] for r in shown]
    if not has_base:
        keep = [0, 1, 2, 4, 6]
        cols, rows = [cols[i] for i in keep], [[row[i] for i in keep] for row in rows]
    return pd.DataFrame(rows, columns=[t(f"eval.col.{c}", lang, score=eval_report.ROW_SCORE) for c in cols])


def offered_markdown(res: eval_report.Results, lang: str) -> str:
    lines = [f"**{html.escape(res.scores.get('about', ''))}**"] if res.scores.get("about") else []
    for key, offer in (res.scores.get("offered") or {}).items():
        mark = "✓" if offer["on"] else "–"
        lines.append(f"{mark} {t(f'eval.offer.{key}', lang)}: {html.escape(offer['why'])}")
    if res.scores.get("prompts_cut"):
        lines.append(t("eval.prompts_cut", lang, n=res.scores["prompts_cut"]))
    return "\n\n".join(lines)


def build(ctx: Ctx) -> EvalHandles:
    lang = ctx.lang

    def lab(component: Any, key: str) -> Any:
        return ctx.i18n(component, lambda lg: gr.update(label=t(key, lg)))

    def schema(component: Any, name: str) -> Any:  # labelled and explained by the config schema
        return ctx.i18n(component, lambda lg: gr.update(label=field_label(name, lg)[0], info=field_label(name, lg)[1]))

    def default(name: str) -> Any:
        return FIELDS[name].default

    ctx.i18n(gr.Markdown(t("eval.intro", lang)), lambda lg: gr.update(value=t("eval.intro", lg)))
    source_choices = lambda lg: [(t("chat.source_run", lg), "run"), (t("chat.source_model", lg), "model")]  # noqa: E731
    source = ctx.i18n(gr.Radio(source_choices(lang), value="run", label=t("eval.source", lang), elem_id="eval-source"),
                      lambda lg: gr.update(label=t("eval.source", lg), choices=source_choices(lg)))
    with gr.Row(visible=True) as run_row:
        run = lab(gr.Dropdown(choices=[], label=t("chat.run", lang), elem_id="eval-run"), "chat.run")
        weights = schema(gr.Dropdown(choices=[], multiselect=True, label=field_label("eval_weights", lang)[0],
                                     elem_id="eval-weights"), "eval_weights")
    with gr.Row(visible=False) as model_row:
        model = schema(gr.Dropdown(choices=ctx.ws.local_models(), allow_custom_value=True, elem_id="eval-model",
                                   label=field_label("model_name_or_path", lang)[0]), "model_name_or_path")
        adapter = schema(gr.Textbox(label=field_label("adapter_name_or_path", lang)[0], elem_id="eval-adapter"),
                         "adapter_name_or_path")
        template = schema(gr.Dropdown(choices=list(FIELDS["template"].metadata["choices"]), value="chatml",
                                      label=field_label("template", lang)[0], elem_id="eval-template"), "template")
    with gr.Row():
        base = schema(gr.Checkbox(default("eval_base"), label=field_label("eval_base", lang)[0], elem_id="eval-base"),
                      "eval_base")
        dataset = schema(gr.Dropdown(choices=[("", "")], value="", label=field_label("eval_dataset", lang)[0],
                                     elem_id="eval-dataset"), "eval_dataset")
        samples = schema(gr.Number(default("max_samples"), precision=0, label=field_label("max_samples", lang)[0],
                                   elem_id="eval-max-samples"), "max_samples")
    with gr.Accordion(t("eval.settings", lang), open=False) as settings_box:
        with gr.Row():
            new_tokens = schema(gr.Number(default("max_new_tokens"), precision=0, elem_id="eval-max-new-tokens",
                                          label=field_label("max_new_tokens", lang)[0]), "max_new_tokens")
            batch = schema(gr.Number(default("per_device_eval_batch_size"), precision=0, elem_id="eval-batch",
                                     label=field_label("per_device_eval_batch_size", lang)[0]),
                           "per_device_eval_batch_size")
            temperature = schema(gr.Number(default("temperature"), elem_id="eval-temperature",
                                           label=field_label("temperature", lang)[0]), "temperature")
            top_p = schema(gr.Number(default("top_p"), elem_id="eval-top-p", label=field_label("top_p", lang)[0]),
                           "top_p")
        with gr.Row():
            sql_dir = schema(gr.Textbox(label=field_label("sql_db_dir", lang)[0], elem_id="eval-sql-dir"), "sql_db_dir")
            sql_timeout = schema(gr.Number(default("sql_timeout_s"), elem_id="eval-sql-timeout",
                                           label=field_label("sql_timeout_s", lang)[0]), "sql_timeout_s")
    ctx.i18n(settings_box, lambda lg: gr.update(label=t("eval.settings", lg)))
    start = ctx.i18n(gr.Button(t("eval.start", lang), variant="primary", elem_id="eval-start"),
                     lambda lg: gr.update(value=t("eval.start", lg)))
    message = gr.Markdown(elem_id="eval-message")
    message_said = ctx.said(message)
    with gr.Row(equal_height=True):
        job = lab(gr.Dropdown(choices=[], label=t("eval.job", lang), elem_id="eval-job", scale=3), "eval.job")
        abort = ctx.i18n(gr.Button(t("runs.abort", lang), elem_id="eval-abort", scale=0, min_width=120),
                         lambda lg: gr.update(value=t("runs.abort", lg)))
    progress = gr.HTML(elem_id="eval-progress")
    offered = gr.Markdown(elem_id="eval-offered")
    scores = gr.Dataframe(interactive=False, elem_id="eval-scores")
    chart = gr.Plot(elem_id="eval-chart", show_label=False)
    drawn = gr.State("")
    with gr.Row(equal_height=True):
        sort_choices = lambda lg: [(t(f"eval.sort.{s}", lg), s) for s in eval_report.SORTS]  # noqa: E731
        sort = ctx.i18n(gr.Dropdown(sort_choices(lang), value="worse", label=t("eval.sort", lang), elem_id="eval-sort"),
                        lambda lg: gr.update(label=t("eval.sort", lg), choices=sort_choices(lg)))
        query = lab(gr.Textbox(label=t("eval.filter", lang), elem_id="eval-filter"), "eval.filter")
        page = lab(gr.Number(1, precision=0, label=t("eval.page", lang), elem_id="eval-page", minimum=1),
                   "eval.page")
    page_note = gr.Markdown(elem_id="eval-page-note")
    table = gr.Dataframe(interactive=False, wrap=True, elem_id="eval-rows", column_widths=list(WIDTHS[True]))
    timer = gr.Timer(1.0)

    @guarded
    def refresh(lang: str, current_run: str | None, current_job: str | None, current_dataset: str | None):
        ids, jobs = eval_runs(ctx.ws), eval_jobs(ctx.ws)
        held = [(t("eval.held_out", lang), "")]
        datasets = held + [(d, d) for d in dataset_choices(ctx.ws.data_dir)]
        return (gr.update(choices=ids, value=current_run if current_run in ids else (ids[0] if ids else None),
                          info="" if ids else t("chat.no_runs", lang)),
                gr.update(choices=jobs, value=current_job if current_job in jobs else (jobs[0] if jobs else None)),
                gr.update(choices=datasets, value=current_dataset if current_dataset in [d for _, d in datasets]
                          else ""),
                gr.update(choices=ctx.ws.local_models()))

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
            head = t("train.queued" if state == "queued" else "eval.started", lg, run=run_dir.name)
            return "\n\n".join(filter(None, [head, render.issues_markdown(prepared.issues, lg)]))
        said = both_ways(text)
        return said[lang == "zh"], said, gr.update(choices=eval_jobs(ctx.ws), value=run_dir.name)

    @guarded
    def show(lang: str, job_id: str | None, order: str, text: str, number: float | None, shown: str):
        if not job_id or job_id not in eval_jobs(ctx.ws):
            return "", "", None, gr.update(), shown, "", None
        info = runs.get_run(ctx.ws, job_id)
        res = eval_report.read(info.path)
        key = f"{job_id}|{info.state}|{len(res.lines)}|{bool(res.scores)}|{lang}"
        figure = gr.update()
        if key != shown and res.scores:
            from studio.ui import charts

            figure = charts.eval_figure(eval_report.score_rows(res), res.targets, eval_report.checkpoint_curve(res),
                                        eval_report.ROW_SCORE, lang)
        elif not res.scores:
            figure = None
        rows, count, pages = eval_report.page_rows(eval_report.compared(res), order or "order", text or "",
                                                   int(number or 1), PAGE_ROWS)
        note = t("eval.page_note", lang, count=count, page=min(max(1, int(number or 1)), pages), pages=pages)
        status = render.status_markdown(info, "", lang).rsplit("\n\n", 1)[0]  # no command line here
        return (status + "\n\n" + offered_markdown(res, lang), render.progress_html(info.status, lang),
                scores_frame(res, lang) if res.scores else None, figure, key, note,
                gr.update(value=rows_frame(rows, res.has_base, lang) if rows else None,
                          column_widths=list(WIDTHS[res.has_base])))

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
    source.change(lambda s: (gr.update(visible=s == "run"), gr.update(visible=s == "model")), [source],
                  [run_row, model_row], queue=False, show_progress="hidden")
    start.click(on_start, [ctx.lang_input, source, run, weights, base, dataset, samples, new_tokens, batch,
                           temperature, top_p, sql_dir, sql_timeout, model, adapter, template],
                [message, message_said, job], api_name="eval_start")
    show_inputs = [ctx.lang_input, job, sort, query, page, drawn]
    show_outputs = [offered, progress, scores, chart, drawn, page_note, table]
    for trigger in (job, sort, query, page):
        trigger.change(show, show_inputs, show_outputs, show_progress="hidden")
    timer.tick(show, show_inputs, show_outputs, show_progress="hidden")
    abort.click(on_abort, [ctx.lang_input, job], [message])
    refresh_io = ([ctx.lang_input, run, job, dataset], [run, job, dataset, model])
    ctx.on_load(refresh, *refresh_io)
    ctx.on_lang(show, show_inputs, show_outputs)
    return EvalHandles(job, refresh, refresh_io)
