"""The run-directory contract: file names, atomic status writes, append-only metrics, log tail."""

from __future__ import annotations

import json
import os
import time
from pathlib import Path
from typing import Any

CONFIG_FILE = "config.yaml"
COMMAND_FILE = "command.txt"
STATUS_FILE = "status.json"
METRICS_FILE = "metrics.jsonl"
LOG_FILE = "train.log"
EVAL_LOG = "eval.log"  # an eval job's log (config stage: eval)
PREDICTIONS_FILE = "predictions.jsonl"
SCORES_FILE = "scores.json"
ADAPTER_DIR = "adapter"
MODEL_DIR = "model"  # full / freeze runs save a whole model here instead of an adapter
WORST_FILE = "worst_rows.jsonl"
SCHEMA_VERSION = 1

ACTIVE_STATES = ("queued", "running")
FINAL_STATES = ("finished", "failed", "aborted")


def write_json_atomic(path: Path, data: dict[str, Any]) -> None:
    """Readers never see half a file: write a temporary file, then rename over the old one."""
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.write_text(json.dumps(data, ensure_ascii=False, indent=1), encoding="utf-8")
    os.replace(tmp, path)


def read_status(run_dir: Path) -> dict[str, Any]:
    try:
        return json.loads((run_dir / STATUS_FILE).read_text(encoding="utf-8"))
    except (FileNotFoundError, json.JSONDecodeError):
        return {"schema_version": SCHEMA_VERSION, "state": "queued"}


def update_status(run_dir: Path, **changes: Any) -> dict[str, Any]:
    status = {**read_status(run_dir), **changes, "schema_version": SCHEMA_VERSION, "updated_at": time.time()}
    write_json_atomic(run_dir / STATUS_FILE, status)
    return status


def append_metric(run_dir: Path, record: dict[str, Any]) -> None:
    with open(run_dir / METRICS_FILE, "a", encoding="utf-8") as fh:
        fh.write(json.dumps(record, ensure_ascii=False) + "\n")
        fh.flush()


def read_metrics(run_dir: Path, offset: int = 0) -> tuple[list[dict[str, Any]], int]:
    """Complete lines from byte `offset` on, and the offset to continue from; a torn last line waits."""
    try:
        with open(run_dir / METRICS_FILE, "rb") as fh:
            fh.seek(offset)
            chunk = fh.read()
    except FileNotFoundError:
        return [], offset
    end = chunk.rfind(b"\n") + 1
    rows = []
    for line in chunk[:end].splitlines():
        try:
            rows.append(json.loads(line))
        except json.JSONDecodeError:
            continue  # blank, or torn by a kill before a resume appended after it
    return rows, offset + end


def _complete(state_file: Path) -> bool:
    if not state_file.is_file():  # a regular file: not missing, not a device or a dangling link
        return False
    try:
        return "global_step" in json.loads(state_file.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return False  # cut short by a full disk or a kill


def checkpoints(run_dir: Path) -> list[Path]:
    """Complete checkpoints, oldest first. The Trainer writes trainer_state.json last, so a save cut short by a
    full disk or a kill leaves a folder without a whole one, and that folder is never resumed from."""
    found = [p for p in run_dir.glob("checkpoint-*") if p.name.split("-")[-1].isdigit()
             and _complete(p / "trainer_state.json")]
    return sorted(found, key=lambda p: int(p.name.split("-")[-1]))


def trim_metrics(run_dir: Path, last_step: int) -> int:
    """Drop metrics lines after `last_step` (a resume repeats those steps); returns how many were dropped."""
    path = run_dir / METRICS_FILE
    if not path.exists():
        return 0
    lines = [ln for ln in path.read_text(encoding="utf-8").splitlines() if ln.strip()]
    kept = []
    for line in lines:
        try:
            if json.loads(line).get("step", 0) <= last_step:
                kept.append(line)
        except json.JSONDecodeError:
            continue  # a line torn by the kill that ended the run
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text("".join(f"{ln}\n" for ln in kept), encoding="utf-8")
    os.replace(tmp, path)
    return len(lines) - len(kept)


def log_name(stage: str) -> str:
    return EVAL_LOG if stage == "eval" else LOG_FILE


def log_path(run_dir: Path) -> Path:
    """The worker's log: eval.log for an eval job, else train.log."""
    return run_dir / EVAL_LOG if (run_dir / EVAL_LOG).exists() else run_dir / LOG_FILE


def log_tail(run_dir: Path, lines: int = 40) -> str:
    try:
        with open(log_path(run_dir), "rb") as fh:
            fh.seek(0, os.SEEK_END)
            fh.seek(max(0, fh.tell() - 64 * 1024))
            text = fh.read().decode("utf-8", errors="replace")
    except FileNotFoundError:
        return ""
    return "\n".join(text.replace("\r", "\n").splitlines()[-lines:])


def last_error_line(run_dir: Path) -> str:
    """The line of the log that best says why a worker died: the last 'Error' line, else the last line."""
    tail = [ln for ln in log_tail(run_dir, 200).splitlines() if ln.strip()]
    for line in reversed(tail):
        if "Error" in line or "error:" in line or "Exception" in line:
            return line.strip()
    return tail[-1].strip() if tail else "(empty log)"
