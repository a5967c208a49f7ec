"""Run directories: create, launch the worker as a subprocess, read state back from files, abort."""

from __future__ import annotations

import os
import re
import shlex
import signal
import subprocess
import sys
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from studio import config as cfgmod
from studio.config import RunConfig
from studio.errors import StudioError
from studio.messages import render
from studio.rundir import (
    ACTIVE_STATES,
    COMMAND_FILE,
    CONFIG_FILE,
    LOG_FILE,
    last_error_line,
    read_metrics,
    read_status,
    update_status,
)
from studio.workspace import REPO_ROOT, Workspace


def worker_argv(run_dir: Path) -> list[str]:
    return [sys.executable, "-m", "studio.train", str(run_dir)]


def command_preview(run_dir: Path) -> str:
    return shlex.join(worker_argv(run_dir))


def new_run_id(ws: Workspace, cfg: RunConfig) -> str:
    label = re.sub(r"[^\w.-]+", "-", cfg.run_name or cfg.dataset).strip("-")[:40] or "run"
    stamp = time.strftime("%Y%m%d-%H%M%S")
    run_id, n = f"{stamp}-{label}", 1
    while (ws.runs_dir / run_id).exists():
        n += 1
        run_id = f"{stamp}-{label}-{n}"
    return run_id


def create_run(ws: Workspace, cfg: RunConfig, preset: str = "") -> Path:
    """Write config.yaml, command.txt and a queued status: everything a launch needs, before it happens."""
    run_dir = ws.runs_dir / new_run_id(ws, cfg)
    run_dir.mkdir(parents=True)
    (run_dir / CONFIG_FILE).write_text(cfgmod.to_yaml(cfg), encoding="utf-8")
    (run_dir / COMMAND_FILE).write_text(command_preview(run_dir) + "\n", encoding="utf-8")
    update_status(run_dir, state="queued", created_at=time.time(), preset=preset,
                  model=cfg.model_name_or_path, dataset=cfg.dataset)
    return run_dir


def _proc_start(pid: int) -> str | None:
    """The kernel's start time of a process: tells our worker apart from a later process reusing its pid."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    # A zombie still counts: its parent (our reaper thread, or init) is about to collect it and its exit code.
    return stat.rsplit(")", 1)[1].split()[19]


def _alive(status: dict[str, Any]) -> bool:
    pid = status.get("pid")
    if not pid:
        return False
    if not Path("/proc").exists():  # not Linux: signal 0 checks existence only
        try:
            os.kill(pid, 0)
            return True
        except OSError:
            return False
    started = _proc_start(pid)
    return started is not None and started == status.get("pid_start", started)


def _reap(proc: subprocess.Popen[bytes], run_dir: Path) -> None:
    """Wait for the worker (no zombie) and record a death it could not report itself."""
    code = proc.wait()
    status = read_status(run_dir)
    if status.get("state") in ACTIVE_STATES:
        reason = (render("run.killed", signal=-code) if code < 0
                  else render("run.exit_code", code=code, line=last_error_line(run_dir)))
        state = "aborted" if status.get("abort_requested") else "failed"
        update_status(run_dir, state=state, exit_code=code, finished_at=time.time(), error=reason)


def launch(run_dir: Path) -> int:
    """Start the worker in its own process group; its output goes to train.log. Returns the pid."""
    env = {**os.environ, "PYTHONUNBUFFERED": "1",
           "PYTHONPATH": os.pathsep.join(filter(None, [str(REPO_ROOT), os.environ.get("PYTHONPATH")]))}
    with open(run_dir / LOG_FILE, "ab") as log:
        proc = subprocess.Popen(worker_argv(run_dir), cwd=REPO_ROOT, stdout=log, stderr=subprocess.STDOUT,
                                stdin=subprocess.DEVNULL, start_new_session=True, env=env)
    update_status(run_dir, pid=proc.pid, pid_start=_proc_start(proc.pid), launched_at=time.time())
    threading.Thread(target=_reap, args=(proc, run_dir), daemon=True).start()
    return proc.pid


def start(ws: Workspace, cfg: RunConfig, preset: str = "") -> Path:
    run_dir = create_run(ws, cfg, preset)
    launch(run_dir)
    return run_dir


@dataclass(frozen=True)
class RunInfo:
    run_id: str
    path: Path
    status: dict[str, Any]

    @property
    def state(self) -> str:
        return str(self.status.get("state", "queued"))


def run_status(run_dir: Path) -> dict[str, Any]:
    """status.json, corrected when the worker is gone without saying so (kill -9, power loss, OOM)."""
    status = read_status(run_dir)
    if status.get("state") in ACTIVE_STATES and status.get("pid") and not _alive(status):
        time.sleep(0.05)  # the worker may be writing its final status right now
        status = read_status(run_dir)
        if status.get("state") in ACTIVE_STATES:
            state = "aborted" if status.get("abort_requested") else "failed"
            status = update_status(run_dir, state=state, finished_at=time.time(),
                                   error=render("run.vanished", line=last_error_line(run_dir)))
    return status


def get_run(ws: Workspace, run_id: str) -> RunInfo:
    run_dir = ws.confine(run_id, ws.runs_dir)
    if run_dir.parent != ws.runs_dir or not (run_dir / CONFIG_FILE).exists():
        raise StudioError("run.unknown", run=run_id, root=str(ws.runs_dir))
    return RunInfo(run_dir.name, run_dir, run_status(run_dir))


def list_runs(ws: Workspace) -> list[RunInfo]:
    """All runs, newest first."""
    dirs = sorted((p for p in ws.runs_dir.iterdir() if (p / CONFIG_FILE).exists()), reverse=True)
    return [RunInfo(p.name, p, run_status(p)) for p in dirs]


def abort(ws: Workspace, run_id: str) -> RunInfo:
    """SIGTERM the worker's whole process group; the worker records 'aborted' (or we do, if it can't)."""
    info = get_run(ws, run_id)
    if info.state not in ACTIVE_STATES or not info.status.get("pid"):
        raise StudioError("run.not_running", run=run_id, state=info.state)
    update_status(info.path, abort_requested=True)
    try:
        os.killpg(os.getpgid(info.status["pid"]), signal.SIGTERM)
    except ProcessLookupError:
        pass
    return get_run(ws, run_id)


def last_loss(run_dir: Path) -> float | None:
    rows, _ = read_metrics(run_dir)
    losses = [r["loss"] for r in rows if "loss" in r]
    return losses[-1] if losses else None
