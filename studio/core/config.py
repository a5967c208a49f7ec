"""The one run-config schema (fields in studio.core.schema): reading, type coercion, bounds and the rules that tie
fields together; YAML, presets, the CLI and the forms all go through here."""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass, fields
from pathlib import Path
from typing import Any, Literal

import yaml

from studio.core.errors import StudioError
from studio.core.messages import render
from studio.core.schema import (  # noqa: F401
    EVAL_GROUP,
    GROUPS,
    PREFERENCE_STAGES,
    STAGES,
    TEMPLATE_NAMES,
    TRACKERS,
    TRAIN_STAGES,
    RunConfig,
    knob,
)
from studio.core.workspace import NAME_RE, check_text

FIELDS = {f.name: f for f in fields(RunConfig)}
HOST_RE = re.compile(r"[0-9A-Za-z][0-9A-Za-z.\-]{0,252}|\[?[0-9A-Fa-f:]{2,39}\]?")  # a host name, IPv4 or IPv6
BROWSER_FIELDS = tuple(name for name, f in FIELDS.items() if f.metadata["browser"])
FORM_FIELDS = tuple(name for name in BROWSER_FIELDS if FIELDS[name].metadata["group"] in GROUPS)  # the Train form
EVAL_FIELDS = tuple(name for name in BROWSER_FIELDS if FIELDS[name].metadata["group"] == EVAL_GROUP)
_TYPE_NAMES = {int: "an integer", float: "a number", bool: "true or false", str: "text"}


@dataclass(frozen=True)
class Issue:
    field: str
    level: Literal["error", "warning"]
    key: str
    params: dict[str, Any]

    def text(self, lang: str = "en") -> str:
        return render(self.key, lang, **self.params)


def has_errors(issues: list[Issue]) -> bool:
    return any(i.level == "error" for i in issues)


def _coerce(name: str, value: Any) -> tuple[Any, Issue | None]:
    kind = {"int": int, "float": float, "bool": bool, "str": str}[str(FIELDS[name].type)]
    ok = (isinstance(value, kind) and not (kind is int and isinstance(value, bool))) or (
        kind is float and isinstance(value, int) and not isinstance(value, bool))
    if kind is int and isinstance(value, float) and value.is_integer():
        value, ok = int(value), True
    if kind is float and isinstance(value, str):  # YAML reads 1e-4 (no dot) as a string
        try:
            value, ok = float(value), True
        except ValueError:
            pass
    if not ok:
        return None, Issue(name, "error", "config.bad_type", {"field": name, "expected": _TYPE_NAMES[kind],
                                                               "value": value})
    return (float(value) if kind is float else value), None


def from_dict(data: dict[str, Any], source: str) -> tuple[RunConfig, list[Issue]]:
    """Build a config from a (partial) mapping; unknown keys and wrong types are reported, not dropped."""
    cfg, issues = RunConfig(), []
    for key, value in data.items():
        if key not in FIELDS:
            issues.append(Issue(key, "error", "config.unknown_key", {"source": source, "key": key}))
            continue
        value, issue = _coerce(key, value)
        if issue:
            issues.append(issue)
        else:
            setattr(cfg, key, value)
    return cfg, issues + check_fields(cfg)


def check_fields(cfg: RunConfig) -> list[Issue]:
    """Bounds and choices declared in the schema, plus rules that tie fields together."""
    issues = []
    for name, f in FIELDS.items():
        value, meta = getattr(cfg, name), f.metadata
        if meta["choices"] and value not in meta["choices"]:
            issues.append(Issue(name, "error", "config.bad_choice",
                                {"field": name, "value": value, "choices": ", ".join(meta["choices"])}))
        low, high = meta["ge"], meta["le"]
        if low is not None and not (low <= value <= high):
            shown = value if len(str(value)) <= 24 else f"{str(value)[:20]}…"  # 1e308 is not worth 309 digits
            issues.append(Issue(name, "error", "config.out_of_range",
                                {"field": name, "value": shown, "low": low, "high": high}))
    issues += _check_combinations(cfg)
    return issues


def _check_combinations(cfg: RunConfig) -> list[Issue]:
    issues = []
    if cfg.finetuning_type == "lora" and cfg.lora_alpha < cfg.lora_rank:
        issues.append(Issue("lora_alpha", "warning", "config.alpha_low",
                            {"alpha": cfg.lora_alpha, "rank": cfg.lora_rank}))
    if cfg.mask_history and cfg.train_on_prompt:
        issues.append(Issue("mask_history", "error", "config.history_and_prompt", {}))
    if cfg.trust_remote_code:
        issues.append(Issue("trust_remote_code", "warning", "config.remote_code", {}))
    if 0 < cfg.cutoff_len < 16:  # 0 means "from the data"; a handful of tokens cannot hold a turn
        issues.append(Issue("cutoff_len", "error", "config.out_of_range",
                            {"field": "cutoff_len", "value": cfg.cutoff_len, "low": 16, "high": 131072}))
    if cfg.quantization != "none" and cfg.finetuning_type != "lora":
        issues.append(Issue("quantization", "error", "config.quant_needs_lora", {"method": cfg.finetuning_type}))
    if cfg.early_stopping_patience and not cfg.val_size:
        issues.append(Issue("early_stopping_patience", "error", "config.patience_needs_val", {}))
    if cfg.early_stopping_patience and cfg.val_size and cfg.save_steps % cfg.eval_steps:
        issues.append(Issue("save_steps", "error", "config.save_eval_steps",
                            {"save": cfg.save_steps, "eval": cfg.eval_steps}))
    if cfg.machine_rank >= cfg.num_machines:
        issues.append(Issue("machine_rank", "error", "config.bad_rank",
                            {"rank": cfg.machine_rank, "machines": cfg.num_machines}))
    if cfg.num_machines > 1 and not cfg.main_process_ip.strip():
        issues.append(Issue("main_process_ip", "error", "config.need_main_ip", {}))
    if cfg.main_process_ip and not HOST_RE.fullmatch(cfg.main_process_ip):
        issues.append(Issue("main_process_ip", "error", "config.bad_host", {"value": cfg.main_process_ip[:100]}))
    if cfg.stage in PREFERENCE_STAGES:
        if cfg.num_processes * cfg.num_machines > 1:  # the reference pass is one process's
            issues.append(Issue("num_processes", "error", "config.pref_one_process", {"stage": cfg.stage}))
        for name in ("packing", "train_on_prompt", "mask_history"):
            if getattr(cfg, name):
                issues.append(Issue(name, "error", "config.sft_only", {"field": name, "stage": cfg.stage}))
    if cfg.adapter_name_or_path and cfg.finetuning_type != "lora" and cfg.stage != "eval":
        issues.append(Issue("adapter_name_or_path", "error", "config.start_needs_lora",
                            {"method": cfg.finetuning_type}))
    if cfg.report_to in TRACKERS and not tracker_installed(cfg.report_to):  # another value: the choice check says
        issues.append(Issue("report_to", "error", "config.tracker_missing", {"tracker": cfg.report_to}))
    if cfg.run_name and not NAME_RE.fullmatch(cfg.run_name):
        shown = cfg.run_name if len(cfg.run_name) <= 60 else cfg.run_name[:57] + "…"
        issues.append(Issue("run_name", "error", "input.bad_name", {"field": "run_name", "value": shown}))
    for name, f in FIELDS.items():  # NUL and control bytes never reach a path or a subprocess argument
        value = getattr(cfg, name)
        if str(f.type) == "str" and isinstance(value, str):
            try:
                check_text(value, name)
            except StudioError as err:
                issues.append(Issue(name, "error", err.key, dict(err.fields)))
    return issues


def tracker_installed(name: str) -> bool:
    """Whether a tracker's package can be imported here (the form offers only these; a YAML naming another is
    refused before launch rather than failing inside the worker)."""
    import importlib.util

    return name == "none" or importlib.util.find_spec(name) is not None


def to_dict(cfg: RunConfig) -> dict[str, Any]:
    return asdict(cfg)


def to_yaml(cfg: RunConfig) -> str:
    return yaml.safe_dump(to_dict(cfg), sort_keys=False, allow_unicode=True)


def read_yaml(path: Path) -> dict[str, Any]:
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except FileNotFoundError:
        raise StudioError("file.missing", file=str(path)) from None
    except yaml.YAMLError as exc:
        raise StudioError("config.bad_yaml", file=path.name, detail=str(exc).splitlines()[0]) from None
    if not isinstance(data, dict):
        raise StudioError("config.not_mapping", file=path.name)
    return data


def load(path: Path) -> RunConfig:
    """A config file as the worker and `studio train` read it; any error stops with its sentence."""
    cfg, issues = from_dict(read_yaml(path), path.name)
    errors = [i for i in issues if i.level == "error"]
    if errors:
        raise StudioError("run.invalid", count=len(errors), first=errors[0].text())
    return cfg
