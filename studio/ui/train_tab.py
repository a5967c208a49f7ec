"""Train tab: model, dataset and preset, the schema-generated form, the command preview, Start."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import gradio as gr

from studio.core import config as cfgmod
from studio.core import presets
from studio.core.config import GROUPS
from studio.core.errors import StudioError
from studio.core.workspace import DEMO_MODEL
from studio.data.actions import dataset_choices
from studio.encode.encoder import Options
from studio.encode.learn import learn_row, proposed_template
from studio.model.memory import GIB
from studio.runs import manage as runs
from studio.runs.launcher import command_preview, node_commands
from studio.runs.prepare import Prepared, launch, prepare, resolve
from studio.train.checks import check_template
from studio.ui import form as formmod
from studio.ui import learn_panel
from studio.ui.context import Ctx, both_ways, guarded
from studio.ui.data_viewer import clamp
from studio.ui.i18n import t
from studio.ui.render import issues_markdown

DEFAULT_PRESET = "demo"
LEARN_FIELDS = ("model_name_or_path", "template", "dataset", "cutoff_len", "train_on_prompt", "mask_history")


@dataclass
class TrainHandles:
    preset: gr.Dropdown
    form: formmod.Form
    start: gr.Button
    result: gr.Markdown
    result_said: gr.State  # what result says, in both languages
    on_start: Callable[..., tuple[tuple[str, str], str | None]]
    values_of: Callable[[str], list[Any]]  # a run's config as form values ("Copy to form")
    refresh: Callable[[str], tuple[Any, Any]]  # model and dataset choices, re-read from the workspace


def batch_text(cfg: cfgmod.RunConfig, lang: str) -> str:
    b, a, p = cfg.per_device_train_batch_size, cfg.gradient_accumulation_steps, cfg.num_processes * cfg.num_machines
    return t("train.batch", lang, b=b, a=a, p=p, e=b * a * p) + "\n\n" + t("train.advice", lang)


def _gib(value: float) -> str:
    return f"{value / GIB:.2f} GiB" if value >= 0.01 * GIB else f"{value / 2**20:.1f} MiB"


def form_config(ctx: Ctx, values: Any) -> tuple[cfgmod.RunConfig, list[cfgmod.Issue]]:
    """The form's values as a config; trust_remote_code is the server's setting, never the page's."""
    return formmod.to_config(list(values), ctx.ws.trust_remote_code)


def prepared(ctx: Ctx, values: Any, preset: str = "", full: bool = False) -> Prepared:
    """The one prepare path, as a browser sent the values (full: everything a launch checks)."""
    data = formmod.values_dict(list(values), ctx.ws.trust_remote_code)
    return prepare(ctx.ws, data, preset, "form", from_browser=True, full=full)


def memory_text(p: Prepared, lang: str) -> str:
    """The estimate of memory per device against the device's (read from headers; nothing is loaded)."""
    fence = [i for i in p.issues if i.field == "model_name_or_path" and i.level == "error"]
    if fence:
        return fence[0].text(lang)
    cfg, est = p.config, p.estimate
    if est is None:
        return t("train.memory_unknown", lang) + "\n\n" + path_text(cfg, lang, False)
    cutoff = cfg.cutoff_len or "p99"
    text = t("train.memory", lang, total=_gib(est.total), w=_gib(est.weights), g=_gib(est.gradients),
             o=_gib(est.optimizer), a=_gib(est.activations), b=cfg.per_device_train_batch_size, c=cutoff,
             t=f"{est.trainable:,}", p=f"{est.parameters:,}", device=est.device,
             avail=_gib(est.device_bytes) if est.device_bytes else "?")
    text += "\n\n" + t("train.memory_over", lang) if est.fits is False else ""
    return text + "\n\n" + path_text(cfg, lang, est.answer_only)


GROUPING_GAIN = "1.6×"  # bench/train_throughput.py: grouped by length / random padded batches, non-pad tokens/s


def path_text(cfg: cfgmod.RunConfig, lang: str, answer_only: bool) -> str:
    """Which batching path the run takes and why; the loss path where the estimate says it applies."""
    preference = cfg.stage in cfgmod.PREFERENCE_STAGES  # (packing is refused there)
    key = "packed" if cfg.packing and not preference else "grouped" if cfg.group_by_length else "padded"
    text = t(f"train.path_{key}", lang, x=GROUPING_GAIN)
    if preference:
        reference = "none" if cfg.stage == "dpo" and cfg.pref_loss in ("orpo", "simpo") else cfg.stage
        text += " " + t(f"train.pref_path.{reference}", lang)
    return text + (" " + t("train.loss_path", lang) if answer_only else "")


def preview(ctx: Ctx, p: Prepared, lang: str) -> str:
    """What a launch would write: the worker's argv (each machine's, with several) and the config.yaml it reads;
    while a value is refused, the issues instead (no command is built from a value the schema refuses)."""
    cfg = p.config
    if not p.ok:
        return "".join(f"# {i.text(lang)}\n" for i in p.issues if i.level == "error")
    run_dir = ctx.ws.runs_dir / runs.new_run_id(ctx.ws, cfg)
    head = f"# {command_preview(run_dir, cfg)}\n"
    if cfg.num_machines > 1:
        head = f"# {t('train.nodes', lang)}\n" + "".join(
            f"# [{rank}] {line}\n" for rank, line in enumerate(node_commands(run_dir, cfg)))
    return head + cfgmod.to_yaml(cfg)


def start_choices(ctx: Ctx, lang: str | None = None) -> list[Any]:
    """Start from: a new adapter (empty), or an earlier LoRA run's adapter or checkpoint."""
    return [(t("train.fresh_adapter", lang or ctx.lang), ""), *runs.start_points(ctx.ws)]


def build(ctx: Ctx) -> TrainHandles:
    lang = ctx.lang
    cfg, _ = presets.from_preset(DEFAULT_PRESET)
    with gr.Row():
        preset = ctx.i18n(gr.Dropdown(choices=presets.list_presets(), value=DEFAULT_PRESET, label=t("train.preset", lang),
                                      elem_id="train-preset", scale=1), lambda lg: gr.update(label=t("train.preset", lg)))
        why = gr.Markdown(presets.preset_rationale(DEFAULT_PRESET, lang), elem_id="train-preset-why")
    dynamic = {"model_name_or_path": ctx.ws.local_models() or [DEMO_MODEL],
               "dataset": dataset_choices(ctx.ws.data_dir), "adapter_name_or_path": start_choices(ctx)}
    titles = {g: t(f"train.group.{g}", lang) for g in GROUPS}
    form = formmod.build(cfg, lang, dynamic, titles)
    for name, comp in form.widgets.items():
        ctx.i18n(comp, lambda lg, n=name: formmod.field_update(n, lg) | (  # "a new adapter" said in the language
            {"choices": start_choices(ctx, lg)} if n == "adapter_name_or_path" else {}))
    for group, box in form.groups.items():
        ctx.i18n(box, lambda lg, g=group: gr.update(label=t(f"train.group.{g}", lg)))
    template_note = gr.Markdown(elem_id="train-template-note")
    batch = gr.Markdown(batch_text(cfg, lang), elem_id="train-batch")
    first = prepared(ctx, formmod.values_of(cfg))  # the preset's values, checked as a Start would see them
    memory = gr.Markdown(memory_text(first, lang), elem_id="train-memory")
    with gr.Accordion(t("learn.title", lang), open=False, elem_id="train-learn-box") as learn_box:
        ctx.i18n(gr.Markdown(t("learn.help", lang)), lambda lg: gr.update(value=t("learn.help", lg)))
        with gr.Row(equal_height=True):
            learn_row_no = ctx.i18n(gr.Number(value=1, precision=0, label=t("learn.row", lang),
                                              elem_id="train-learn-row", scale=0, min_width=120),
                                    lambda lg: gr.update(label=t("learn.row", lg)))
            learn_show = ctx.i18n(gr.Checkbox(value=False, label=t("learn.show_tokens", lang), elem_id="train-learn-show"),
                                  lambda lg: gr.update(label=t("learn.show_tokens", lg)))
        learn_summary = gr.Markdown(elem_id="train-learn-summary")
        learn_html = gr.HTML(elem_id="train-learn-html")
        learn_tokens = gr.Dataframe(visible=False, interactive=False, max_height=320, elem_id="train-learn-tokens")
    ctx.i18n(learn_box, lambda lg: gr.update(label=t("learn.title", lg)))
    with gr.Accordion(t("train.command", lang), open=False) as cmd_box:
        command = gr.Code(preview(ctx, first, lang), language="yaml", elem_id="train-command")
    ctx.i18n(cmd_box, lambda lg: gr.update(label=t("train.command", lg)))
    start = ctx.i18n(gr.Button(t("train.start", lang), variant="primary", elem_id="train-start"),
                     lambda lg: gr.update(value=t("train.start", lg)))
    result = gr.Markdown(elem_id="train-result")
    result_said = ctx.said(result)

    @guarded
    def on_preset(lang: str, name: str):
        cfg, issues = presets.from_preset(name)
        said = both_ways(lambda lg: issues_markdown(issues, lg))
        return [presets.preset_rationale(name, lang), said[lang == "zh"], said, *formmod.values_of(cfg)]

    @guarded
    def on_change(lang: str, *values: Any):
        p = prepared(ctx, values)
        return batch_text(p.config, lang), memory_text(p, lang), preview(ctx, p, lang)

    @guarded
    def on_load(lang: str):
        models = ctx.ws.local_models() or [DEMO_MODEL]
        return (gr.update(choices=models), gr.update(choices=dataset_choices(ctx.ws.data_dir)),
                gr.update(choices=start_choices(ctx, lang)))

    @guarded
    def on_models(lang: str, *values: Any):
        """Model and dataset lists read again, and what depends on the model checked again (the demo model
        appearing turns "no local safetensors yet" into an estimate)."""
        return (*on_load.__wrapped__(lang), *on_change.__wrapped__(lang, *values),
                on_template.__wrapped__(lang, *values))

    @guarded
    def on_model(lang: str, model: str | None):
        """A model folder proposes its own template (its family's, or `auto` when it has a chat template)."""
        try:
            local = ctx.ws.local_model_dir(model or "") if model else None
        except StudioError:
            return gr.update()  # the template note says why
        return gr.update(value=proposed_template(local, ctx.ws.trust_remote_code)) if local else gr.update()

    def sees(model: str | None) -> bool:
        """Whether the chosen model reads images: its vision options are shown only then."""
        from studio.model.vision import sees_images

        try:
            local = ctx.ws.local_model_dir(model or "") if model else None
        except StudioError:
            return False
        return bool(local) and sees_images(local)

    form.groups["vision"].visible = sees(cfg.model_name_or_path)
    form.groups["preference"].visible = cfg.stage in cfgmod.PREFERENCE_STAGES

    @guarded
    def on_template(lang: str, *values: Any):
        cfg, _ = form_config(ctx, values)
        try:
            local = ctx.ws.local_model_dir(cfg.model_name_or_path)
        except StudioError as err:
            return err.text(lang)
        return issues_markdown(check_template(cfg, local), lang) if local else ""

    @guarded
    def on_learn(lang: str, row: float | None, show_tokens: bool, *values: Any):
        cfg, issues = form_config(ctx, values)
        try:
            local = ctx.ws.local_model_dir(cfg.model_name_or_path)
        except StudioError as err:
            return err.text(lang), "", gr.update(visible=False)
        if local is None:
            return issues_markdown(issues, lang), "", gr.update(visible=False)
        issues += check_template(cfg, local)
        if cfgmod.has_errors(issues):
            return issues_markdown(issues, lang), "", gr.update(visible=False)
        try:
            cfg, _ = resolve(ctx.ws, cfg)
            options = Options.of(cfg)
            learned = learn_row(ctx.ws.data_dir, cfg.dataset, clamp(row), local, cfg.template, options,
                                cfg.trust_remote_code)
        except StudioError as err:
            return err.text(lang), "", gr.update(visible=False)
        return (learn_panel.summary(learned, lang), learn_panel.text_html(learned, lang),
                gr.update(value=learn_panel.tokens_frame(learned, lang) if show_tokens else None, visible=show_tokens))

    model_box = form.widgets["model_name_or_path"]
    model_box.change(on_model, [ctx.lang_input, model_box], [form.widgets["template"]], show_progress="hidden")
    form.widgets["stage"].change(lambda stage: gr.update(visible=stage in cfgmod.PREFERENCE_STAGES, open=True),
                                 [form.widgets["stage"]], [form.groups["preference"]], queue=False,
                                 show_progress="hidden")
    model_box.change(lambda m: gr.update(visible=sees(m)), [model_box], [form.groups["vision"]], queue=False,
                     show_progress="hidden")
    learn_inputs = [ctx.lang_input, learn_row_no, learn_show, *form.components]
    learn_outputs = [learn_summary, learn_html, learn_tokens]
    for name in ("model_name_or_path", "template", "cutoff_len"):
        form.widgets[name].change(on_template, [ctx.lang_input, *form.components], [template_note],
                                  show_progress="hidden")
    for comp in (learn_row_no, learn_show, *(form.widgets[n] for n in LEARN_FIELDS)):
        comp.change(on_learn, learn_inputs, learn_outputs, show_progress="hidden")
    learn_box.expand(on_learn, learn_inputs, learn_outputs, show_progress="hidden")
    preset.change(on_preset, [ctx.lang_input, preset], [why, result, result_said, *form.components])
    for comp in form.components:
        comp.change(on_change, [ctx.lang_input, *form.components], [batch, memory, command], show_progress="hidden")
    ctx.on_models(on_models, [ctx.lang_input, *form.components],
                  [form.widgets["model_name_or_path"], form.widgets["dataset"], form.widgets["adapter_name_or_path"],
                   batch, memory, command, template_note])
    ctx.on_lang(on_change, [ctx.lang_input, *form.components], [batch, memory, command])
    ctx.on_lang(on_template, [ctx.lang_input, *form.components], [template_note])
    ctx.on_lang(lambda lg, name: presets.preset_rationale(name, lg), [ctx.lang_input, preset], [why])
    ctx.on_lang(on_learn, learn_inputs, learn_outputs)
    @guarded
    def on_start(lang: str, preset: str, *values: Any) -> tuple[tuple[str, str], str | None]:
        """Validate exactly as the CLI does; launch (or queue) only when there is no error.
        Returns (the message in both languages, run id)."""
        p = prepared(ctx, values, preset, full=True)
        if not p.ok:
            return both_ways(lambda lg: issues_markdown(p.issues, lg)), None
        run_dir, issues, chosen = launch(ctx.ws, p), p.issues, p.cutoff
        state = runs.run_status(run_dir).get("state")

        def message(lg: str) -> str:
            started = t("train.queued" if state == "queued" else "train.started", lg, run=run_dir.name)
            notes = [started, t("train.auto_cutoff", lg, value=chosen) if chosen else "", issues_markdown(issues, lg)]
            return "\n\n".join(filter(None, notes))
        return both_ways(message), run_dir.name

    def run_values(run_id: str) -> list[Any]:
        cfg = runs.load_config(runs.get_run(ctx.ws, run_id))
        cfg.run_name = ""  # the copy is a new run: its folder gets a new name
        return formmod.values_of(cfg)

    return TrainHandles(preset, form, start, result, result_said, on_start, run_values, on_load)
