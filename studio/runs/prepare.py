"""One path from a form or a YAML file to a started run: merge over the preset, check (the fence first when a
browser sent it), make `cutoff_len: 0` a number, estimate memory; then launch. The Train tab's Start, memory and
command preview, `python -m studio validate` and `train` all come through here."""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from studio.core import config as cfgmod
from studio.core import presets
from studio.core.config import Issue, RunConfig, has_errors
from studio.core.errors import StudioError
from studio.core.machine import has_gpu
from studio.core.workspace import Workspace
from studio.model.load import model_path
from studio.model.memory import Estimate, estimate
from studio.runs import evalplan, manage


@dataclass
class Prepared:
    config: RunConfig
    issues: list[Issue] = field(default_factory=list)
    cutoff: int | None = None  # chosen from the data when cutoff_len was 0
    estimate: Estimate | None = None
    preset: str = ""

    @property
    def ok(self) -> bool:
        return not has_errors(self.issues)


def memory(ws: Workspace, cfg: RunConfig) -> Estimate | None:
    """The estimate for the model the worker will load (model_path's rule), when its folder is on this machine."""
    local = Path(model_path(cfg, ws))
    if cfg.stage == "dpo":  # two sequences per row with gradient (chosen and rejected); KTO's KL row keeps none
        cfg = replace(cfg, per_device_train_batch_size=2 * cfg.per_device_train_batch_size)
    return estimate(local, cfg, has_gpu()) if (local / "config.json").exists() else None


def auto_cutoff(ws: Workspace, cfg: RunConfig) -> int:
    from studio.encode.lengths import dataset_cutoff

    return dataset_cutoff(ws.data_dir, cfg.dataset, Path(model_path(cfg, ws)), cfg.template, cfg.trust_remote_code)


def resolve(ws: Workspace, cfg: RunConfig) -> tuple[RunConfig, int | None]:
    """The config as it will run: cutoff_len 0 becomes a number. Returns it and the number chosen, if any."""
    if cfg.cutoff_len:
        return cfg, None
    value = auto_cutoff(ws, cfg)
    return replace(cfg, cutoff_len=value), value


def prepare(ws: Workspace, values: dict[str, Any], preset: str = "", source: str = "form",
            from_browser: bool = False, full: bool = True) -> Prepared:
    """`values` merged over the preset and checked. `full` runs everything a launch needs (workspace, model,
    dataset, machine; the cutoff made a number); without it, only what a live preview can afford."""
    cfg, issues = cfgmod.from_dict({**(presets.preset_values(preset) if preset else {}), **values}, source)
    if cfg.stage == "eval":  # the evaluated run's settings in, then the checks only an eval job has
        cfg = evalplan.fill_from_run(ws, cfg)
        issues += evalplan.check(ws, cfg)
    prepared = Prepared(cfg, issues, preset=preset)
    malformed = any(i.key.startswith("input.") for i in issues)  # NUL or overlong text: no path is built from it
    if not malformed:  # the fence first (cheap, so previews get it too), then every other check, all at once
        fence = manage.check_launch(ws, cfg, from_browser=from_browser)
        prepared.issues += fence
        if full and not (from_browser and has_errors(fence)):  # a refused model or cache is never opened
            from studio.train.checks import check_environment

            prepared.issues += check_environment(cfg, ws)
    if full and prepared.ok:
        prepared.config, prepared.cutoff = resolve(ws, cfg)
    if cfg.stage != "eval" and not malformed and not any(
            i.level == "error" and i.field == "model_name_or_path" for i in prepared.issues):
        prepared.estimate = memory(ws, prepared.config)  # the model is one a caller may read headers of
    return prepared


def launch(ws: Workspace, prepared: Prepared) -> Path:
    """Create the run folder and start the worker (or queue it); only a prepared config without errors."""
    if not prepared.ok:
        first = next(i for i in prepared.issues if i.level == "error")
        raise StudioError("run.invalid", count=sum(i.level == "error" for i in prepared.issues), first=first.text())
    return manage.start(ws, prepared.config, prepared.preset)
