"""Starting a worker: its exact argv (plain, or through `accelerate launch`), the process group, the reaper."""

from __future__ import annotations

import os
import shlex
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

from studio.core import config as cfgmod
from studio.core.config import RunConfig
from studio.core.machine import worker_env
from studio.core.messages import render
from studio.core.rundir import (
    ACTIVE_STATES,
    COMMAND_FILE,
    CONFIG_FILE,
    last_error_line,
    log_name,
    read_status,
    update_status,
)
from studio.core.workspace import REPO_ROOT

ABORT_GRACE_S = 60.0  # SIGTERM lets the worker finish its step and save; after this it is killed


def distributed(cfg: RunConfig) -> bool:
    return cfg.num_processes * cfg.num_machines > 1


def launcher_flags(cfg: RunConfig, machine_rank: int | None = None) -> list[str]:
    """`accelerate launch` flags: a torchrun-style launch; the strategy (DeepSpeed, FSDP) is the Trainer's."""
    flags = ["--multi_gpu", "--num_processes", str(cfg.num_processes * cfg.num_machines),
             "--num_machines", str(cfg.num_machines), "--mixed_precision", "no", "--dynamo_backend", "no",
             "--main_process_port", str(cfg.main_process_port)]
    if cfg.num_machines > 1:
        rank = cfg.machine_rank if machine_rank is None else machine_rank
        flags += ["--machine_rank", str(rank), "--main_process_ip", cfg.main_process_ip]
    return flags


def worker_argv(run_dir: Path, cfg: RunConfig, resume: str | None = None, machine_rank: int | None = None
                ) -> list[str]:
    module = "studio.serve.evaluate" if cfg.stage == "eval" else "studio.train"
    worker = ["-m", module, str(run_dir)] + (["--resume", resume] if resume else [])
    if cfg.stage == "eval" or not distributed(cfg):
        return [sys.executable, *worker]
    return [sys.executable, "-m", "accelerate.commands.launch", *launcher_flags(cfg, machine_rank), *worker]


def command_preview(run_dir: Path, cfg: RunConfig) -> str:
    return shlex.join(worker_argv(run_dir, cfg))


def node_commands(run_dir: Path, cfg: RunConfig) -> list[str]:
    """With several machines: the command for each (rank 0 is started by the studio; run the others there)."""
    env = f"cd {shlex.quote(str(REPO_ROOT))} && "
    return [env + shlex.join(worker_argv(run_dir, cfg, None, rank)) for rank in range(cfg.num_machines)]


def proc_start(pid: int) -> str | None:
    """The kernel's start time of a process: tells our worker apart from a later process reusing its pid."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    # A zombie still counts: its parent (our reaper thread, or init) is about to collect it and its exit code.
    return stat.rsplit(")", 1)[1].split()[19]


def alive(status: dict[str, Any]) -> bool:
    pid = status.get("pid")
    if not pid:
        return False
    if not Path("/proc").exists():  # not Linux: signal 0 checks existence only
        try:
            os.kill(pid, 0)
            return True
        except OSError:
            return False
    started = proc_start(pid)
    return started is not None and started == status.get("pid_start", started)


def _reap(proc: subprocess.Popen[bytes], run_dir: Path) -> None:
    """Wait for the worker (no zombie) and record a death it could not report itself."""
    code = proc.wait()
    status = read_status(run_dir)
    if status.get("state") in ACTIVE_STATES and status.get("pid") == proc.pid:
        reason = (render("run.killed", signal=-code) if code < 0
                  else render("run.exit_code", code=code, line=last_error_line(run_dir)))
        _mark_dead(run_dir, status, reason, exit_code=code)


def _mark_dead(run_dir: Path, status: dict[str, Any], reason: str, **extra: Any) -> dict[str, Any]:
    """The one rule for a worker that ended without saying so: aborted if an abort was asked, else failed."""
    state = "aborted" if status.get("abort_requested") else "failed"
    return update_status(run_dir, state=state, finished_at=time.time(), error=reason, **extra)


def run_status(run_dir: Path) -> dict[str, Any]:
    """status.json, corrected when the worker is gone without saying so (kill -9, power loss, OOM)."""
    status = read_status(run_dir)
    if status.get("state") in ACTIVE_STATES and status.get("pid") and not alive(status):
        time.sleep(0.05)  # the worker may be writing its final status right now
        status = read_status(run_dir)
        if status.get("state") in ACTIVE_STATES and not alive(status):
            status = _mark_dead(run_dir, status, render("run.vanished", line=last_error_line(run_dir)))
    return status


def launch(run_dir: Path) -> int:
    """Start the worker in its own process group, output to train.log; command.txt gets the exact argv."""
    cfg = cfgmod.load(run_dir / CONFIG_FILE)
    resume = read_status(run_dir).get("resume_from")
    argv = worker_argv(run_dir, cfg, resume)
    (run_dir / COMMAND_FILE).write_text(shlex.join(argv) + "\n", encoding="utf-8")
    env = worker_env({**os.environ, "PYTHONUNBUFFERED": "1",
                      "PYTHONPATH": os.pathsep.join(filter(None, [str(REPO_ROOT), os.environ.get("PYTHONPATH")]))})
    cache = cfg.cache_dir or os.environ.get("STUDIO_CACHE_DIR")
    if cache:  # the shared cache folder, for every process (hub files with it, unless HF_HOME is set)
        cache = str(run_dir.resolve().parent.parent / cache)  # relative = inside the workspace
        env["STUDIO_CACHE_DIR"] = cache
        env.setdefault("HF_HOME", str(Path(cache) / "hf"))
    with open(run_dir / log_name(cfg.stage), "ab") as log:
        # cwd = the workspace: a relative model name (a hub id included) can only mean a folder in it
        proc = subprocess.Popen(argv, cwd=run_dir.resolve().parent.parent, stdout=log, stderr=subprocess.STDOUT,
                                stdin=subprocess.DEVNULL, start_new_session=True, env=env)
    update_status(run_dir, state="running", pid=proc.pid, pid_start=proc_start(proc.pid), launched_at=time.time())
    threading.Thread(target=_reap, args=(proc, run_dir), daemon=True).start()
    return proc.pid


def signal_group(status: dict[str, Any], sig: int) -> bool:
    if not alive(status):
        return False
    try:
        os.killpg(os.getpgid(status["pid"]), sig)
    except ProcessLookupError:
        return False
    return True


def kill_after(run_dir: Path, grace_s: float) -> bool:
    """Wait up to `grace_s` for an aborted worker to save and exit; then kill its group. True if it was killed."""
    deadline = time.monotonic() + grace_s
    while time.monotonic() < deadline:
        status = read_status(run_dir)
        if status.get("state") not in ACTIVE_STATES or not alive(status):
            return False
        time.sleep(0.2)
    status = read_status(run_dir)
    killed = status.get("state") in ACTIVE_STATES and signal_group(status, signal.SIGKILL)
    if killed:
        update_status(run_dir, state="aborted", finished_at=time.time(), exit_code=-9,
                      error=render("run.abort_killed", seconds=int(grace_s)))
    return killed
