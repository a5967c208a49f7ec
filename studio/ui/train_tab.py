"""Train tab: model, dataset and preset, the schema-generated form, the command preview, Start."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import gradio as gr

from studio import config as cfgmod
from studio import runs
from studio.checks import check_environment
from studio.config import GROUPS
from studio.data.actions import dataset_choices
from studio.demo import DEMO_MODEL
from studio.ui import form as formmod
from studio.ui.context import Ctx, guarded
from studio.ui.i18n import t
from studio.ui.render import issues_markdown

DEFAULT_PRESET = "demo"


@dataclass
class TrainHandles:
    preset: gr.Dropdown
    form: formmod.Form
    start: gr.Button
    result: gr.Markdown
    on_start: Callable[..., tuple[str, str | None]]
    refresh: Callable[[str], tuple[Any, Any]]  # model and dataset choices, re-read from the workspace


def batch_text(cfg: cfgmod.RunConfig, lang: str) -> str:
    b, a = cfg.per_device_train_batch_size, cfg.gradient_accumulation_steps
    return t("train.batch", lang, b=b, a=a, e=b * a)


def preview(ctx: Ctx, cfg: cfgmod.RunConfig) -> str:
    """What a launch would write: the worker's argv and the config.yaml it reads."""
    run_dir = ctx.ws.runs_dir / runs.new_run_id(ctx.ws, cfg)
    return f"# {runs.command_preview(run_dir)}\n" + cfgmod.to_yaml(cfg)


def build(ctx: Ctx) -> TrainHandles:
    lang = ctx.lang
    cfg, _ = cfgmod.from_preset(DEFAULT_PRESET)
    with gr.Row():
        preset = ctx.i18n(gr.Dropdown(choices=cfgmod.list_presets(), value=DEFAULT_PRESET, label=t("train.preset", lang),
                                      elem_id="train-preset", scale=1), lambda lg: gr.update(label=t("train.preset", lg)))
        why = gr.Markdown(cfgmod.preset_rationale(DEFAULT_PRESET), elem_id="train-preset-why")
    dynamic = {"model_name_or_path": ctx.ws.local_models() or [DEMO_MODEL],
               "dataset": dataset_choices(ctx.ws.data_dir)}
    titles = {g: t(f"train.group.{g}", lang) for g in GROUPS}
    form = formmod.build(cfg, lang, dynamic, titles)
    for name, comp in form.widgets.items():
        ctx.i18n(comp, lambda lg, n=name: formmod.field_update(n, lg))
    batch = gr.Markdown(batch_text(cfg, lang), elem_id="train-batch")
    with gr.Accordion(t("train.command", lang), open=False) as cmd_box:
        command = gr.Code(preview(ctx, cfg), language="yaml", elem_id="train-command")
    ctx.i18n(cmd_box, lambda lg: gr.update(label=t("train.command", lg)))
    start = ctx.i18n(gr.Button(t("train.start", lang), variant="primary", elem_id="train-start"),
                     lambda lg: gr.update(value=t("train.start", lg)))
    result = gr.Markdown(elem_id="train-result")

    @guarded
    def on_preset(lang: str, name: str):
        cfg, issues = cfgmod.from_preset(name)
        return [cfgmod.preset_rationale(name), issues_markdown(issues, lang), *formmod.values_of(cfg)]

    def on_change(lang: str, *values: Any):
        cfg, _ = formmod.to_config(list(values))
        return batch_text(cfg, lang), preview(ctx, cfg)

    def on_load(lang: str):
        models = ctx.ws.local_models() or [DEMO_MODEL]
        return gr.update(choices=models), gr.update(choices=dataset_choices(ctx.ws.data_dir))

    preset.change(on_preset, [ctx.lang_input, preset], [why, result, *form.components])
    for comp in form.components:
        comp.change(on_change, [ctx.lang_input, *form.components], [batch, command])
    ctx.blocks.load(on_load, [ctx.lang_input],
                    [form.widgets["model_name_or_path"], form.widgets["dataset"]])
    @guarded
    def on_start(lang: str, preset: str, *values: Any) -> tuple[str, str | None]:
        """Validate exactly as the CLI does; launch only when there is no error. Returns (message, run id)."""
        cfg, issues = formmod.to_config(list(values))
        issues += check_environment(cfg, ctx.ws)
        if cfgmod.has_errors(issues):
            return issues_markdown(issues, lang), None
        run_dir = runs.start(ctx.ws, cfg, preset)
        started = t("train.started", lang, run=run_dir.name)
        return "\n\n".join(filter(None, [started, issues_markdown(issues, lang)])), run_dir.name

    return TrainHandles(preset, form, start, result, on_start, on_load)
