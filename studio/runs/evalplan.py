"""What an evaluation job evaluates, settled before it is queued: the run's settings copied in (base model,
template, data options, its held-out split), the weights named, every problem found as an Issue.

An eval job is a run folder of its own kind (config `stage: eval`), so it queues behind training on the same
device, can be aborted and resumed, survives a server restart and appears in the Runs tab."""

from __future__ import annotations

import re
from dataclasses import replace
from pathlib import Path

from studio.core import config as cfgmod
from studio.core.config import Issue, RunConfig
from studio.core.rundir import ACTIVE_STATES, ADAPTER_DIR, CONFIG_FILE, MODEL_DIR, checkpoints, read_status
from studio.core.workspace import NAME_RE, Workspace

BASE = "base"
FINAL = "final"
TUNED = "tuned"  # the Start-from adapter, when a model folder is evaluated rather than a run
CHECKPOINT_RE = re.compile(r"checkpoint-\d+")
# what a run's own settings decide for its evaluation (so the held-out rows are exactly the ones it held out)
FROM_RUN = ("model_name_or_path", "template", "trust_remote_code", "cutoff_len", "train_on_prompt", "mask_history",
            "text_only", "image_max_pixels", "image_min_pixels", "dataset", "val_size", "seed", "finetuning_type")


def weight_names(cfg: RunConfig) -> list[str]:
    return [w.strip() for w in cfg.eval_weights.split(",") if w.strip()]


def targets(cfg: RunConfig) -> list[str]:
    """The weights evaluated, in order: the base model first (when asked), then the run's final weights, then its
    checkpoints by step (each once)."""
    tuned = sorted(set(weight_names(cfg)), key=lambda n: (n != FINAL, int(n.split("-")[-1]) if n[-1:].isdigit()
                                                        else 0)) if cfg.eval_run else (
        [TUNED] if cfg.adapter_name_or_path else [])
    return ([BASE] if cfg.eval_base or not tuned else []) + tuned


def main_target(names: list[str]) -> str:
    """The weights compared with the base: the final ones when evaluated, else the last named."""
    return FINAL if FINAL in names else names[-1]


def fill_from_run(ws: Workspace, cfg: RunConfig) -> RunConfig:
    """The eval config as it will run: the evaluated run's settings in, the dataset chosen (held-out or named)."""
    cfg = replace(cfg, stage="eval")
    if cfg.eval_run:  # the run's own base model is the base; its result is what is evaluated
        cfg = replace(cfg, adapter_name_or_path="")
    if cfg.eval_run and NAME_RE.fullmatch(cfg.eval_run) and (ws.runs_dir / cfg.eval_run / CONFIG_FILE).exists():
        try:
            source = cfgmod.load(ws.runs_dir / cfg.eval_run / CONFIG_FILE)
        except Exception:  # a damaged config: check() says so
            return cfg
        cfg = replace(cfg, **{name: getattr(source, name) for name in FROM_RUN})
    if cfg.eval_dataset:
        cfg = replace(cfg, dataset=cfg.eval_dataset, val_size=0.0)
    return cfg


def check(ws: Workspace, cfg: RunConfig) -> list[Issue]:
    """Problems only an eval job has; the model, template and dataset go through the training checks as well."""
    issues: list[Issue] = []
    if cfg.eval_run:
        run_dir = ws.runs_dir / cfg.eval_run
        if not NAME_RE.fullmatch(cfg.eval_run) or not (run_dir / CONFIG_FILE).exists():
            return [Issue("eval_run", "error", "run.unknown", {"run": cfg.eval_run, "root": str(ws.runs_dir)})]
        status = read_status(run_dir)
        source_stage = _stage_of(run_dir)
        if source_stage not in cfgmod.TRAIN_STAGES:
            return [Issue("eval_run", "error", "eval.not_training", {"run": cfg.eval_run})]
        if source_stage in cfgmod.PREFERENCE_STAGES and not cfg.eval_dataset:  # its held-out rows are pairs
            return [Issue("eval_dataset", "error", "eval.pref_heldout", {"run": cfg.eval_run, "stage": source_stage})]
        names = weight_names(cfg)
        if not names:
            issues.append(Issue("eval_weights", "error", "eval.no_weights", {"run": cfg.eval_run}))
        active = status.get("state") in ACTIVE_STATES
        saved = {c.name for c in checkpoints(run_dir)}
        for name in names:
            if name != FINAL and not CHECKPOINT_RE.fullmatch(name):
                issues.append(Issue("eval_weights", "error", "chat.bad_weights", {"value": name[:60]}))
            elif name == FINAL and not active and not any((run_dir / d).is_dir() for d in (ADAPTER_DIR, MODEL_DIR)):
                issues.append(Issue("eval_weights", "error", "run.no_adapter", {"run": cfg.eval_run}))
            elif name != FINAL and name not in saved and not active:
                issues.append(Issue("eval_weights", "error", "chat.no_checkpoint",
                                    {"run": cfg.eval_run, "checkpoint": name}))
        if active:
            issues.append(Issue("eval_run", "warning", "eval.queued_behind",
                                {"run": cfg.eval_run, "state": status.get("state")}))
        if not cfg.eval_dataset and cfg.val_size <= 0:
            issues.append(Issue("eval_dataset", "error", "eval.no_heldout", {"run": cfg.eval_run}))
    elif not cfg.eval_dataset:
        issues.append(Issue("eval_dataset", "error", "eval.need_dataset", {}))
    if cfg.sql_db_dir:
        try:
            folder = ws.confine(cfg.sql_db_dir)
        except Exception:
            issues.append(Issue("sql_db_dir", "error", "eval.sql_outside", {"value": cfg.sql_db_dir[:200]}))
        else:
            if not folder.is_dir():
                issues.append(Issue("sql_db_dir", "error", "eval.sql_missing", {"value": cfg.sql_db_dir[:200]}))
    if cfg.num_processes * cfg.num_machines > 1:
        issues.append(Issue("num_processes", "error", "eval.one_process", {}))
    return issues


def _stage_of(run_dir: Path) -> str:
    try:
        return cfgmod.load(run_dir / CONFIG_FILE).stage
    except Exception:
        return "?"
