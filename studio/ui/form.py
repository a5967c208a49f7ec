"""The Train tab's controls, generated from the config schema: widget values <-> RunConfig."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import gradio as gr

from studio.core.config import (
    FIELDS,
    FORM_FIELDS,
    GROUPS,
    TRACKERS,
    TRAIN_STAGES,
    Issue,
    RunConfig,
    from_dict,
    to_dict,
    tracker_installed,
)

# the schema allows more than this form offers: eval is the Evaluate tab's; a tracker only where it is installed
FORM_CHOICES = {"stage": TRAIN_STAGES, "report_to": tuple(t for t in TRACKERS if tracker_installed(t))}


def field_label(name: str, lang: str) -> tuple[str, str]:
    """(label, help) of a field; the label ends with the config key, so the YAML name is always visible."""
    label, help_text = FIELDS[name].metadata["zh" if lang == "zh" else "en"]
    return f"{label} · {name}", help_text


def _widget(name: str, value: Any, lang: str, choices: list[str] | None) -> gr.components.Component:
    meta, kind = FIELDS[name].metadata, str(FIELDS[name].type)
    label, info = field_label(name, lang)
    common = {"label": label, "info": info, "elem_id": f"cfg-{name}", "min_width": 180}  # no squeezed columns
    if name in FORM_CHOICES:  # a fixed list: Gradio refuses any other value a request sends
        return gr.Dropdown(choices=list(FORM_CHOICES[name]), value=value, **common)
    if choices is not None or meta["choices"]:
        return gr.Dropdown(choices=choices if choices is not None else list(meta["choices"]), value=value,
                           allow_custom_value=choices is not None,
                           **common)
    if kind == "bool":
        return gr.Checkbox(value=value, **common)
    if kind in ("int", "float"):
        # no minimum/maximum here: the schema's check names the field in both languages; Gradio's would not
        return gr.Number(value=value, precision=0 if kind == "int" else None, **common)
    return gr.Textbox(value=value, **common)


@dataclass
class Form:
    widgets: dict[str, gr.components.Component]
    groups: dict[str, gr.Accordion]  # one per schema group, for their titles to be re-labelled

    @property
    def components(self) -> list[gr.components.Component]:
        return [self.widgets[name] for name in FORM_FIELDS]  # schema order, as to_config expects


def build(cfg: RunConfig, lang: str, dynamic: dict[str, list[str]], group_titles: dict[str, str]) -> Form:
    """One accordion per schema group; `dynamic` gives choices read from the workspace (models, datasets)."""
    widgets: dict[str, gr.components.Component] = {}
    groups: dict[str, gr.Accordion] = {}
    values = to_dict(cfg)
    for group in GROUPS:
        names = [n for n in FORM_FIELDS if FIELDS[n].metadata["group"] == group]
        with gr.Accordion(group_titles[group], open=group in ("model", "data"), elem_id=f"cfg-group-{group}") as box:
            with gr.Row(equal_height=False):
                for name in names:
                    widgets[name] = _widget(name, values[name], lang, dynamic.get(name))
        groups[group] = box
    return Form(widgets, groups)


def values_dict(values: list[Any], trust_remote_code: bool = False) -> dict[str, Any]:
    """Widget values in schema order -> the mapping a YAML file would hold. Operator-only fields are not among
    the values: `trust_remote_code` is the server's setting, passed in."""
    data: dict[str, Any] = {"trust_remote_code": trust_remote_code}
    for name, value in zip(FORM_FIELDS, values, strict=True):
        if str(FIELDS[name].type) == "int" and isinstance(value, float) and value.is_integer():
            value = int(value)
        data[name] = value
    return data


def to_config(values: list[Any], trust_remote_code: bool = False) -> tuple[RunConfig, list[Issue]]:
    """Widget values -> config and the type issues found (the same parser YAML goes through)."""
    return from_dict(values_dict(values, trust_remote_code), "form")


def values_of(cfg: RunConfig) -> list[Any]:
    values = to_dict(cfg)
    return [values[name] for name in FORM_FIELDS]


def field_update(name: str, lang: str) -> dict[str, Any]:
    label, info = field_label(name, lang)
    return gr.update(label=label, info=info)
