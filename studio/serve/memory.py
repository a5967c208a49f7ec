"""Before a chat load: what a running training run holds on the same device, what the load will need, and what
is free — so a chat that cannot fit beside a run says so with figures instead of failing halfway through."""

from __future__ import annotations

import math
import os
from pathlib import Path

from studio.core.machine import free_bytes, has_gpu, nvidia, rss
from studio.core.messages import render
from studio.core.workspace import Workspace
from studio.model.info import tensor_shapes
from studio.serve.targets import ChatTarget

GIB = 2**30


def need_bytes(target: ChatTarget, gpu: bool) -> int:
    """Weights as chat holds them: bf16 on a GPU, fp32 on CPU (the adapter is tiny but counted)."""
    width = 2 if gpu else 4
    total = 0
    for folder in (Path(target.base), target.adapter):
        if folder is not None and folder.is_dir():
            total += sum(math.prod(s) for s in tensor_shapes(folder).values()) * width
    return total


def _group_pids(leader: int) -> list[int]:
    """The worker and its children (accelerate's ranks) share its process group."""
    pids = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[2]) == leader:  # pgrp is the 5th field, the 3rd after the command name
            pids.append(int(stat.parent.name))
    return pids


def run_usage(leader: int, gpu: bool) -> int:
    pids = set(_group_pids(leader)) or {leader}
    if gpu:
        used = 0
        for line in nvidia(["--query-compute-apps=pid,used_memory"]):
            pid, mib = (x.strip() for x in line.split(","))
            if pid.isdigit() and int(pid) in pids:
                used += int(float(mib) * 2**20)
        return used
    return sum(rss(p) for p in pids)


def memory_note(ws: Workspace, target: ChatTarget, lang: str = "en") -> str:
    """A sentence when a training run shares the device ("" when none does): its use, our need, what is free."""
    from studio.runs.manage import list_runs

    running = [r for r in list_runs(ws) if r.state == "running" and r.status.get("pid")]
    if not running:
        return ""
    gpu = has_gpu()
    need, free = need_bytes(target, gpu), free_bytes(gpu)
    notes = []
    for run in running:
        notes.append(render("chat.memory_busy", lang, run=run.run_id, device="GPU" if gpu else "RAM",
                            used=f"{run_usage(int(run.status['pid']), gpu) / GIB:.2f}",
                            need=f"{need / GIB:.2f}", free=f"{free / GIB:.2f}"))
    if need > free:
        notes.append(render("chat.memory_short", lang))
    return " ".join(notes)


def process_rss() -> int:
    """This process's resident memory (what loading and unloading change)."""
    return rss(os.getpid())
