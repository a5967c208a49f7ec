"""Checks of a run config against the workspace and machine; the Start button, CLI and worker all call these."""

from __future__ import annotations

import os

from studio.config import Issue, RunConfig, gpu_visible
from studio.data.load import survey
from studio.data.registry import load_registry
from studio.errors import StudioError
from studio.workspace import Workspace


def check_environment(cfg: RunConfig, ws: Workspace) -> list[Issue]:
    issues: list[Issue] = []
    local = ws.root / cfg.model_name_or_path
    if local.exists() or cfg.model_name_or_path.startswith(("/", ".", "models/")):
        if not (local / "config.json").exists():
            from studio.demo import DEMO_MODEL

            key = "config.model_creating" if cfg.model_name_or_path == DEMO_MODEL else "config.model_missing"
            issues.append(Issue("model_name_or_path", "error", key, {"path": cfg.model_name_or_path}))
    elif os.environ.get("HF_HUB_OFFLINE") == "1":
        issues.append(Issue("model_name_or_path", "error", "config.model_hub_offline",
                            {"path": cfg.model_name_or_path}))
    try:
        entry = load_registry(ws.registry_file).get(cfg.dataset)
    except StudioError as err:
        issues.append(Issue("dataset", "error", err.key, dict(err.fields)))
    else:
        if entry is None:
            issues.append(Issue("dataset", "error", "registry.unknown",
                                {"name": cfg.dataset, "file": ws.registry_file.name}))
        elif entry.state(ws.data_dir) == "remote":
            issues.append(Issue("dataset", "error", "registry.remote", {"name": cfg.dataset}))
        elif entry.state(ws.data_dir) == "missing":
            issues.append(Issue("dataset", "error", "file.missing", {"file": entry.file_name or cfg.dataset}))
        elif entry.ranking:
            issues.append(Issue("dataset", "error", "registry.ranking", {"name": cfg.dataset}))
        elif (err := survey(entry, ws.data_dir)) is not None:  # nothing would survive conversion
            issues.append(Issue("dataset", "error", err.key, dict(err.fields)))
    if cfg.precision in ("bf16", "fp16") and not gpu_visible():
        issues.append(Issue("precision", "error", "config.no_gpu", {"value": cfg.precision}))
    return issues
