"""The mapping form: pick or upload a file, check the detected mapping against a live preview, save it."""

from __future__ import annotations

import html
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import gradio as gr

from studio.core.errors import StudioError
from studio.core.workspace import check_name
from studio.data import actions
from studio.data.mapping import FORM_COLUMNS, Proposal
from studio.data.registry import DEFAULT_TAGS, FIXES
from studio.ui import data_render
from studio.ui.context import Ctx, both_ways, guarded
from studio.ui.data_viewer import clamp, empty_view, shown
from studio.ui.i18n import t

if TYPE_CHECKING:
    from studio.ui.data_viewer import Viewer

COLUMN_KEYS = ("prompt", "query", "response", "system", "history", "messages", "tools", "chosen", "rejected", "kto_tag",
               "images", "videos", "audios")
ROWS = (COLUMN_KEYS[:7], COLUMN_KEYS[7:10], COLUMN_KEYS[10:])  # text columns, preference columns, media columns
TAG_KEYS = tuple(DEFAULT_TAGS)
UNSET = ""


@dataclass
class AddHandles:
    name: gr.Textbox
    save: gr.Button
    saved: Any  # the Save event, for other parts of the page to follow
    refresh: Callable[[], tuple[Any, list[Any], list[Any]]]  # (fn, inputs, outputs): the file list read again


def _column_choices(columns: list[str]) -> list[tuple[str, str]]:
    return [("—", UNSET), *((c, c) for c in columns)]


def _visible(formatting: str) -> list[dict[str, Any]]:
    shown = FORM_COLUMNS.get(formatting, ())
    return [gr.update(visible=key in shown) for key in COLUMN_KEYS] + \
        [gr.update(visible=formatting in ("sharegpt", "openai"))]


def build(ctx: Ctx, make_viewer: Callable[[], Viewer]) -> AddHandles:
    lang, data_dir = ctx.lang, ctx.ws.data_dir
    files = actions.data_files(data_dir)
    with gr.Row(equal_height=True):
        file = ctx.i18n(gr.Dropdown(choices=files, value=None, allow_custom_value=True, label=t("data.file", lang),
                                    elem_id="map-file", scale=4), lambda lg: gr.update(label=t("data.file", lg)))
        reload = ctx.i18n(gr.Button(t("data.files_refresh", lang), size="md", elem_id="map-refresh", scale=0,
                                    min_width=140), lambda lg: gr.update(value=t("data.files_refresh", lg)))
        upload = ctx.i18n(gr.UploadButton(t("data.upload", lang), file_count="single", elem_id="map-upload",
                                          file_types=[".json", ".jsonl", ".csv", ".parquet", ".arrow", ".txt"],
                                          size="md", scale=0, min_width=180), lambda lg: gr.update(label=t("data.upload", lg)))
    notes = gr.Markdown(elem_id="map-notes")
    proposal = gr.State(None)  # the detected mapping, so its notes can be said again in another language
    formatting = ctx.i18n(gr.Radio(data_render.formatting_choices(lang), value="alpaca", elem_id="map-formatting",
                                   label=t("data.formatting", lang)),
                          lambda lg: gr.update(choices=data_render.formatting_choices(lg), label=t("data.formatting", lg)))
    ctx.i18n(gr.Markdown(t("data.columns", lang)), lambda lg: gr.update(value=t("data.columns", lg)))
    columns: dict[str, gr.Dropdown] = {}
    for keys in ROWS:
        with gr.Row():
            for key in keys:
                columns[key] = ctx.i18n(
                    gr.Dropdown(choices=[("—", UNSET)], value=UNSET, label=f"{t(f'data.map.{key}', lang)} · {key}",
                                elem_id=f"map-col-{key}", visible=key in FORM_COLUMNS["alpaca"], min_width=160),
                    lambda lg, k=key: gr.update(label=f"{t(f'data.map.{k}', lg)} · {k}"))
    with gr.Group(visible=False) as tag_group:
        ctx.i18n(gr.Markdown(t("data.tags", lang)), lambda lg: gr.update(value=t("data.tags", lg)))
        with gr.Row():
            tags = {key: gr.Dropdown(choices=[DEFAULT_TAGS[key]], value=DEFAULT_TAGS[key], label=key,
                                     allow_custom_value=True, elem_id=f"map-tag-{key}", min_width=140)
                    for key in TAG_KEYS}
    fix_choices = lambda lg: [(t(f"data.fix.{f}", lg), f) for f in FIXES]  # noqa: E731
    fixes = ctx.i18n(gr.CheckboxGroup(fix_choices(lang), value=[], label=t("data.fixes", lang), elem_id="map-fixes"),
                     lambda lg: gr.update(choices=fix_choices(lg), label=t("data.fixes", lg)))
    with gr.Row(equal_height=True):
        name = ctx.i18n(gr.Textbox(label=t("data.name", lang), elem_id="map-name", scale=3),
                        lambda lg: gr.update(label=t("data.name", lg)))
        overwrite = ctx.i18n(gr.Checkbox(False, label=t("data.overwrite", lang), visible=False,
                                         elem_id="map-overwrite", scale=2),
                             lambda lg: gr.update(label=t("data.overwrite", lg)))
        save = ctx.i18n(gr.Button(t("data.save", lang), variant="primary", elem_id="map-save", scale=1),
                        lambda lg: gr.update(value=t("data.save", lg)))
    result = gr.Markdown(elem_id="map-result")
    result_said = ctx.said(result)
    view = make_viewer()  # below the form: the preview follows every change above it
    form = [file, formatting, *columns.values(), *tags.values(), fixes]

    def entry_of(file_value: str, fmt: str, values: tuple[Any, ...], chosen_fixes: list[str], entry_name: str = ""):
        cols = dict(zip(COLUMN_KEYS, values[:len(COLUMN_KEYS)], strict=True))
        tag_values = dict(zip(TAG_KEYS, values[len(COLUMN_KEYS):], strict=True))
        return actions.entry_from_form(data_dir, entry_name, file_value, fmt,
                                       {k: v or None for k, v in cols.items()},
                                       {k: v or DEFAULT_TAGS[k] for k, v in tag_values.items()}, chosen_fixes)

    def notes_of(lang: str, p: Proposal | None) -> str:
        if p is None:
            return gr.update()
        fmt_name = t(f"data.fmt.{p.formatting}", lang)
        return "\n\n".join(filter(None, [t("data.detected", lang, fmt=fmt_name),
                                          data_render.notes_markdown(p.notes, lang)]))

    @guarded
    def detect(lang: str, file_value: str | None):
        keep = [gr.update()] * (len(form) + 1)
        if not file_value:
            return ["", None, *keep]
        try:
            p: Proposal = actions.detect_file(data_dir, file_value)
        except StudioError as err:  # a wrong name: said in the status line; the form stays as it is
            return [f"⚠ {html.escape(err.text(lang))}", None, *keep]
        note = notes_of(lang, p)
        col_updates = [gr.update(choices=_column_choices(p.file_columns), value=p.columns.get(k) or UNSET,
                                 visible=k in FORM_COLUMNS[p.formatting]) for k in COLUMN_KEYS]
        keys_seen, roles_seen = p.message_keys, p.role_values
        tag_updates = []
        for key in TAG_KEYS:
            seen = keys_seen if key in ("role_tag", "content_tag") else roles_seen
            tag_updates.append(gr.update(choices=list(dict.fromkeys([p.tags[key], *seen])), value=p.tags[key]))
        stem = Path(file_value.rstrip("/")).stem
        return [note, p, gr.update(), gr.update(value=p.formatting), *col_updates, *tag_updates,
                gr.update(value=p.fixes), gr.update(value=stem)]

    @guarded
    def show(lang: str, file_value: str | None, fmt: str, *rest: Any):
        *values, chosen_fixes, number = rest
        if not file_value:
            return empty_view()
        try:
            total = actions.row_total(data_dir, file=file_value)
            row = clamp(number, total)
            entry = entry_of(file_value, fmt, tuple(values), chosen_fixes)
            problems = actions.check_entry(data_dir, entry)  # an incomplete mapping is a state of the form
            if problems:
                raw = data_render.raw_json(actions.raw_row(data_dir, file_value, row - 1))
                return [raw, [], "\n\n".join(f"⚠ {html.escape(p.text(lang))}" for p in problems),
                        gr.update(value=row) if row != number else gr.update(), gr.update(value=None, visible=False),
                        gr.update(value="", visible=False)]
            items, _ = actions.preview_entry(data_dir, entry, row - 1, 1)
        except StudioError as err:  # the file itself is wrong: no stale row from another file stays up
            return empty_view(f"⚠ {html.escape(err.text(lang))}")
        return shown(data_dir, actions.row_views(items), number, total, lang)

    @guarded
    def do_save(lang: str, entry_name: str, replace: bool, file_value: str | None, fmt: str, *rest: Any):
        *values, chosen_fixes = rest
        try:
            check_name(entry_name, "dataset name")  # before the mapping is read: a bad name is said as such
            if not file_value:
                raise StudioError("mapping.required", role=t("data.file", lang))
            entry = entry_of(file_value, fmt, tuple(values), chosen_fixes, entry_name)
            actions.save(data_dir, entry_name, entry, overwrite=bool(replace))
        except StudioError as err:
            said = both_ways(lambda lg, e=err: f"⚠ {html.escape(e.text(lg))}")
            return said[lang == "zh"], said, gr.update(visible=err.key == "registry.exists" or replace, value=False)
        said = both_ways(lambda lg: t("data.saved", lg, name=entry_name))
        return said[lang == "zh"], said, gr.update(visible=False, value=False)

    @guarded
    def uploaded(lang: str, path: str | None):
        if not path:
            return gr.update(), "", None
        stored = actions.upload(data_dir, ctx.ws.uploaded(path), Path(path).name, move=True)
        said = both_ways(lambda lg: t("data.uploaded", lg, name=stored))
        return gr.update(choices=actions.data_files(data_dir), value=stored), said[lang == "zh"], said

    def files(current: str | None):
        # the choices only: the value is left as it is now, not as it was when this request left the page (a
        # file picked while the page was still loading stays picked)
        return gr.update(choices=actions.data_files(data_dir))

    show_inputs = [ctx.lang_input, *form, view.row]
    # a file the user picks clears the last "Registered" line; an upload (which sets the file) keeps its own
    file.input(lambda: ("", None), None, [result, result_said], show_progress="hidden")
    file.change(detect, [ctx.lang_input, file], [notes, proposal, file, *form[1:], name]).then(
        _visible, [formatting], [*columns.values(), tag_group]).then(
        lambda: 1, None, [view.row]).then(show, show_inputs, view.outputs)
    formatting.input(_visible, [formatting], [*columns.values(), tag_group]).then(show, show_inputs, view.outputs)
    for component in (*columns.values(), *tags.values(), fixes):
        component.input(show, show_inputs, view.outputs, show_progress="hidden")
    view.row.change(show, show_inputs, view.outputs, show_progress="hidden")
    upload.upload(uploaded, [ctx.lang_input, upload], [file, result, result_said])
    saved = save.click(do_save, [ctx.lang_input, name, overwrite, *form], [result, result_said, overwrite])
    reload.click(files, [file], [file], show_progress="hidden")
    ctx.blocks.load(files, [file], [file])
    ctx.on_lang(notes_of, [ctx.lang_input, proposal], [notes])
    ctx.on_lang(show, show_inputs, view.outputs)
    return AddHandles(name, save, saved, lambda: (files, [file], [file]))
