"""Runs: create a run folder, queue / start / abort / resume / delete it, and read its state back from files."""

from __future__ import annotations

import re
import shutil
import signal
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from studio.core import config as cfgmod
from studio.core.config import Issue, RunConfig
from studio.core.errors import StudioError
from studio.core.messages import render
from studio.core.rundir import (
    ACTIVE_STATES,
    COMMAND_FILE,
    CONFIG_FILE,
    METRICS_FILE,
    checkpoints,
    log_tail,
    read_metrics,
    trim_metrics,
    update_status,
)
from studio.core.workspace import NAME_RE, Workspace
from studio.runs.launcher import ABORT_GRACE_S, command_preview, kill_after, run_status, signal_group
from studio.runs.queue import dispatch


def new_run_id(ws: Workspace, cfg: RunConfig) -> str:
    """The output name when given (it must be new); else date-time and dataset, made unique."""
    if cfg.run_name:
        return cfg.run_name
    named = f"eval-{cfg.eval_run or cfg.dataset}" if cfg.stage == "eval" else cfg.dataset
    label = re.sub(r"[^\w.-]+", "-", named).strip("-")[:40] or "run"
    stamp = time.strftime("%Y%m%d-%H%M%S")
    run_id, n = f"{stamp}-{label}", 1
    while (ws.runs_dir / run_id).exists():
        n += 1
        run_id = f"{stamp}-{label}-{n}"
    return run_id


def check_launch(ws: Workspace, cfg: RunConfig, from_browser: bool = False) -> list[Issue]:
    """What only the runs folder can tell: a taken output name; and for a browser, the fence: a model outside the
    model folders, a cache folder outside the workspace, an operator-only setting."""
    issues = []
    if from_browser:
        try:
            ws.browser_model(cfg.model_name_or_path)
        except StudioError as err:
            issues.append(Issue("model_name_or_path", "error", err.key, dict(err.fields)))
        if cfg.adapter_name_or_path:  # Start from: a folder under the model roots (a run's adapter), nothing else
            try:
                if not Path(ws.browser_model(cfg.adapter_name_or_path, "adapter_name_or_path")).is_absolute():
                    raise StudioError("chat.not_adapter", folder=cfg.adapter_name_or_path)
            except StudioError as err:
                issues.append(Issue("adapter_name_or_path", "error", err.key, dict(err.fields)))
        if cfg.machine_rank != 0:  # from the page this machine leads: it never joins a group run elsewhere
            issues.append(Issue("machine_rank", "error", "config.browser_rank", {"rank": cfg.machine_rank}))
        if cfg.trust_remote_code != ws.trust_remote_code:
            issues.append(Issue("trust_remote_code", "error", "config.remote_code_off",
                                {"path": cfg.model_name_or_path, "file": "trust_remote_code"}))
    if cfg.run_name and NAME_RE.fullmatch(cfg.run_name) and (ws.runs_dir / cfg.run_name).exists():
        issues.append(Issue("run_name", "error", "run.exists", {"run": cfg.run_name}))
    if from_browser and cfg.cache_dir:
        try:
            ws.confine(cfg.cache_dir)
        except StudioError:
            issues.append(Issue("cache_dir", "error", "config.cache_outside", {"value": cfg.cache_dir}))
    return issues


def create_run(ws: Workspace, cfg: RunConfig, preset: str = "") -> Path:
    """Write config.yaml, command.txt and a queued status: everything a launch needs, before it happens."""
    run_dir = ws.runs_dir / new_run_id(ws, cfg)
    try:
        run_dir.mkdir(parents=True)
    except FileExistsError:
        raise StudioError("run.exists", run=run_dir.name) from None
    (run_dir / CONFIG_FILE).write_text(cfgmod.to_yaml(cfg), encoding="utf-8")
    (run_dir / COMMAND_FILE).write_text(command_preview(run_dir, cfg) + "\n", encoding="utf-8")
    now = time.time()
    update_status(run_dir, state="queued", created_at=now, queued_at=now, preset=preset,
                  model=cfg.model_name_or_path, dataset=cfg.dataset, stage=cfg.stage,
                  **({"eval_run": cfg.eval_run} if cfg.stage == "eval" else {}),
                  **({"started_from": cfg.adapter_name_or_path} if cfg.adapter_name_or_path else {}))
    return run_dir


def start(ws: Workspace, cfg: RunConfig, preset: str = "") -> Path:
    """Create the run and start it now, or leave it queued behind the run that holds the device."""
    run_dir = create_run(ws, cfg, preset)
    dispatch(ws)
    return run_dir


@dataclass(frozen=True)
class RunInfo:
    run_id: str
    path: Path
    status: dict[str, Any]

    @property
    def state(self) -> str:
        return str(self.status.get("state", "queued"))


def get_run(ws: Workspace, run_id: str) -> RunInfo:
    run_dir = ws.confine(run_id, ws.runs_dir)
    if run_dir.parent != ws.runs_dir or not (run_dir / CONFIG_FILE).exists():
        raise StudioError("run.unknown", run=run_id, root=str(ws.runs_dir))
    return RunInfo(run_dir.name, run_dir, run_status(run_dir))


def list_runs(ws: Workspace) -> list[RunInfo]:
    """All runs, newest first; a queued run starts here if the device has come free."""
    if not ws.runs_dir.exists():
        return []
    dirs = [p for p in ws.runs_dir.iterdir() if (p / CONFIG_FILE).exists()]
    infos = [RunInfo(p.name, p, run_status(p)) for p in dirs]
    if any(i.state == "queued" for i in infos) and not any(i.state == "running" for i in infos):
        dispatch(ws)
        infos = [RunInfo(p.name, p, run_status(p)) for p in dirs]
    return sorted(infos, key=lambda i: (i.status.get("created_at") or 0.0, i.run_id), reverse=True)


def abort(ws: Workspace, run_id: str, grace_s: float = ABORT_GRACE_S, wait: bool = False) -> RunInfo:
    """SIGTERM the worker's process group (it saves a checkpoint and stops); killed if still there after grace_s,
    watched from a thread, or here with `wait` (a CLI that exits next). A queued run not yet started is simply
    taken out of the queue."""
    info = get_run(ws, run_id)
    if info.state not in ACTIVE_STATES:
        raise StudioError("run.not_running", run=run_id, state=info.state)
    if info.state == "queued" and not info.status.get("pid"):
        update_status(info.path, state="aborted", finished_at=time.time(), error=render("run.cancelled"))
        return get_run(ws, run_id)
    update_status(info.path, abort_requested=True)
    signal_group(info.status, signal.SIGTERM)
    if wait:
        kill_after(info.path, grace_s)
    else:
        threading.Thread(target=kill_after, args=(info.path, grace_s), daemon=True).start()
    return get_run(ws, run_id)


def resume(ws: Workspace, run_id: str) -> RunInfo:
    """Queue an aborted or failed run to continue from its latest complete checkpoint, in the same folder."""
    info = get_run(ws, run_id)
    if info.state in ACTIVE_STATES:
        raise StudioError("run.active", run=run_id, state=info.state)
    if info.state not in ("aborted", "failed"):
        raise StudioError("run.cannot_resume", run=run_id, state=info.state)
    if is_eval(info):  # an eval job continues after the answers it already wrote
        point = PREDICTIONS_RESUME
    else:
        found = checkpoints(info.path)
        if not found:
            raise StudioError("run.no_checkpoint", run=run_id)
        point = found[-1].name
        trim_metrics(info.path, int(point.split("-")[-1]))  # steps after it are trained again
    update_status(info.path, state="queued", queued_at=time.time(), resume_from=point, pid=None,
                  pid_start=None, error=None, error_key=None, exit_code=None, finished_at=None,
                  abort_requested=False, resumes=int(info.status.get("resumes") or 0) + 1)
    dispatch(ws)
    return get_run(ws, run_id)


PREDICTIONS_RESUME = "predictions"


def is_eval(info: RunInfo) -> bool:
    return info.status.get("stage") == "eval"


def actions_for(info: RunInfo) -> set[str]:
    """The actions that apply to a run in its state (the Runs tab greys out the others)."""
    can = set() if is_eval(info) else {"copy"}  # an eval job's settings belong to the Evaluate tab
    if info.state in ACTIVE_STATES:
        can.add("abort")
    else:
        can.add("delete")
    if info.state in ("aborted", "failed") and (is_eval(info) or checkpoints(info.path)):
        can.add("resume")
    return can


def delete(ws: Workspace, run_id: str) -> None:
    info = get_run(ws, run_id)
    if info.state == "running":
        raise StudioError("run.delete_active", run=run_id)
    shutil.rmtree(info.path)


def load_config(info: RunInfo) -> RunConfig:
    return cfgmod.load(info.path / CONFIG_FILE)


_LOSSES: dict[Path, tuple[tuple[int, int], tuple[float | None, float | None]]] = {}


def metrics_stamp(run_dir: Path) -> tuple[int, int]:
    """(size, mtime) of metrics.jsonl: changes whenever a line is appended."""
    try:
        st = (run_dir / METRICS_FILE).stat()
    except FileNotFoundError:
        return 0, 0
    return st.st_size, st.st_mtime_ns


def losses(run_dir: Path) -> tuple[float | None, float | None]:
    """The last training loss and the best eval loss; metrics.jsonl is read again only when it changed (the runs
    table asks for every run every second)."""
    stamp = metrics_stamp(run_dir)
    cached = _LOSSES.get(run_dir)
    if cached and cached[0] == stamp:
        return cached[1]
    rows, _ = read_metrics(run_dir)
    train = [r["loss"] for r in rows if "loss" in r]
    evals = [r["eval_loss"] for r in rows if "eval_loss" in r]
    result = (train[-1] if train else None), (min(evals) if evals else None)
    _LOSSES[run_dir] = (stamp, result)
    return result


@dataclass(frozen=True)
class Details:
    """What the Runs tab shows of one run, read from its folder."""
    command: str
    metrics: list[dict[str, Any]]
    worst: list[dict[str, Any]]
    stamp: tuple[int, int]  # of metrics.jsonl: the charts are redrawn only when it changes
    log: str


def details(info: RunInfo, log_lines: int = 12) -> Details:
    from studio.train.worst_rows import read as read_worst

    try:
        command = (info.path / COMMAND_FILE).read_text(encoding="utf-8").strip()
    except FileNotFoundError:
        command = ""
    metrics, _ = read_metrics(info.path)
    return Details(command, metrics, read_worst(info.path), metrics_stamp(info.path), log_tail(info.path, log_lines))


def config_differences(configs: dict[str, RunConfig]) -> dict[str, list[Any]]:
    """Fields whose values differ between the runs: field -> one value per run, in the given order."""
    values = {run: cfgmod.to_dict(cfg) for run, cfg in configs.items()}
    first = next(iter(values.values()), {})
    return {name: [v[name] for v in values.values()] for name in first
            if len({repr(v[name]) for v in values.values()}) > 1}


def start_points(ws: Workspace) -> list[str]:
    """What a new LoRA run can start from: each LoRA run's final adapter and its complete checkpoints, newest
    run first, as workspace paths (the Train form's Start-from choices)."""
    from studio.core.rundir import ADAPTER_DIR

    found = []
    for info in list_runs(ws):
        if is_eval(info):
            continue
        if (info.path / ADAPTER_DIR / "adapter_config.json").exists():
            found.append(f"runs/{info.run_id}/{ADAPTER_DIR}")
        found += [f"runs/{info.run_id}/{c.name}" for c in reversed(checkpoints(info.path))
                  if (c / "adapter_config.json").exists()]
    return found
