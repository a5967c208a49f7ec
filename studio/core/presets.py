"""Presets: partial configs in presets/*.yaml, merged over the schema's defaults, each opening with its why."""

from __future__ import annotations

from typing import Any

from studio.core.config import Issue, RunConfig, from_dict, read_yaml
from studio.core.errors import StudioError
from studio.core.workspace import REPO_ROOT

PRESETS_DIR = REPO_ROOT / "presets"


def list_presets() -> list[str]:
    return sorted(p.stem for p in PRESETS_DIR.glob("*.yaml"))


def preset_values(name: str) -> dict[str, Any]:
    path = PRESETS_DIR / f"{name}.yaml"
    if name not in list_presets():
        raise StudioError("config.unknown_preset", name=name, available=", ".join(list_presets()))
    return read_yaml(path)


def preset_rationale(name: str, lang: str = "en") -> str:
    """The comment block a preset opens with: why its numbers are what they are (`#zh ` lines are its Chinese)."""
    lines = (PRESETS_DIR / f"{name}.yaml").read_text(encoding="utf-8").splitlines()
    zh = [ln[4:].strip() for ln in lines if ln.startswith("#zh ")]
    en = [ln[1:].strip() for ln in lines if ln.startswith("#") and not ln.startswith("#zh ")]
    return "".join(zh) if lang == "zh" and zh else " ".join(en)


def from_preset(name: str, overrides: dict[str, Any] | None = None) -> tuple[RunConfig, list[Issue]]:
    return from_dict({**preset_values(name), **(overrides or {})}, f"preset {name}")
