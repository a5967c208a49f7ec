"""The run queue lives on disk: runs in state 'queued', oldest first; one run holds the device at a time.

Whoever frees or looks at the device calls `dispatch`: a Start or Resume, a worker as it exits
(`python -m studio.runs.queue WORKSPACE`), the UI's refresh and `runs list`. A lock file makes it safe
for several of them (two browsers, a CLI) to call it at once.
"""

from __future__ import annotations

import fcntl
import sys
from pathlib import Path

from studio.core.rundir import CONFIG_FILE, read_status
from studio.core.workspace import Workspace
from studio.runs.launcher import launch, run_status  # run_status marks a dead worker, so a crash frees the device

LOCK_FILE = ".queue.lock"


def waiting(runs_dir: Path) -> list[Path]:
    """Queued runs in the order they were queued."""
    found = []
    for path in runs_dir.iterdir():
        if (path / CONFIG_FILE).exists():
            status = read_status(path)
            if status.get("state") == "queued":
                found.append((status.get("queued_at") or status.get("created_at") or 0.0, path.name, path))
    return [path for *_, path in sorted(found)]


def dispatch(ws: Workspace) -> Path | None:
    """Launch the oldest queued run when none is running; returns the run launched, if any."""

    ws.runs_dir.mkdir(parents=True, exist_ok=True)
    with open(ws.root / LOCK_FILE, "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        busy = [p for p in ws.runs_dir.iterdir()
                if (p / CONFIG_FILE).exists() and run_status(p).get("state") == "running"]
        if busy:
            return None
        queue = waiting(ws.runs_dir)
        if not queue:
            return None
        launch(queue[0])
        return queue[0]


if __name__ == "__main__":
    dispatch(Workspace(Path(sys.argv[1])))
