"""What this machine has: a GPU or not, device memory, free memory, a process's resident memory. One way each,
so the Train tab's estimate, the pre-launch checks and the chat memory note never disagree. No torch import."""

from __future__ import annotations

import os
import shutil
import subprocess
from functools import lru_cache
from pathlib import Path


def nvidia(query: list[str]) -> list[str]:
    """nvidia-smi's CSV rows for a query; none without a driver."""
    if not shutil.which("nvidia-smi"):
        return []
    try:
        out = subprocess.run(["nvidia-smi", *query, "--format=csv,noheader,nounits"], capture_output=True,
                             text=True, timeout=10, check=True)
        return [line for line in out.stdout.splitlines() if line.strip()]
    except (subprocess.SubprocessError, OSError):
        return []


@lru_cache(maxsize=1)
def _gpus() -> tuple[str, ...]:
    return tuple(nvidia(["--query-gpu=name,memory.total"]))


def has_gpu() -> bool:
    """A CUDA GPU this process may use: the driver lists one and CUDA_VISIBLE_DEVICES does not hide it."""
    if os.environ.get("CUDA_VISIBLE_DEVICES") in ("", "-1"):
        return False
    return bool(_gpus())


def _meminfo(key: str) -> int:
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith(f"{key}:"):
                return int(line.split()[1]) * 1024
    except OSError:
        pass
    return 0


def device_memory() -> tuple[str, float | None]:
    """The first GPU's name and memory, else this machine's RAM."""
    if has_gpu():
        try:
            name, mib = _gpus()[0].rsplit(",", 1)
            return name.strip(), float(mib) * 2**20
        except ValueError:
            pass
    return "CPU RAM", float(_meminfo("MemTotal")) or None


def free_bytes(gpu: bool) -> int:
    if gpu:
        rows = nvidia(["--query-gpu=memory.free"])
        return int(float(rows[0]) * 2**20) if rows else 0
    return _meminfo("MemAvailable")


def rss(pid: int) -> int:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
    except OSError:
        pass
    return 0


@lru_cache(maxsize=1)
def tcmalloc() -> str | None:
    """tcmalloc's library name when the system has it (Debian/Ubuntu: libtcmalloc-minimal4), else None.

    A training step allocates and frees the same large activation tensors at shapes that change from batch to batch;
    glibc's malloc keeps the freed pieces fragmented, so the bench worker's peak was ~45% above what was ever live at
    once. tcmalloc reuses them: lower peak memory and a faster step on CPU. STUDIO_MALLOC=system keeps glibc's."""
    if os.environ.get("STUDIO_MALLOC", "").lower() == "system":
        return None
    import ctypes.util

    return ctypes.util.find_library("tcmalloc_minimal") or ctypes.util.find_library("tcmalloc")


def worker_env(env: dict[str, str]) -> dict[str, str]:
    """A worker's environment: tcmalloc preloaded where the system has it, and OpenMP threads that sleep when they
    wait. Spinning threads (the default) cost ~1% when the machine is idle, but when another process keeps a core
    busy (the UI server drawing, a second job) every parallel region waits for the thread that lost its core: the
    bench's training step ran 7x slower, against 2x with passive waiting."""
    env = {"OMP_WAIT_POLICY": "PASSIVE", **env}
    lib = tcmalloc()
    preload = env.get("LD_PRELOAD", "")
    if lib and "tcmalloc" not in preload:
        # tcmalloc reports every allocation over 1 GiB on stderr, i.e. into train.log: a model's weights are no news
        env = {"TCMALLOC_LARGE_ALLOC_REPORT_THRESHOLD": str(2**40), **env, "LD_PRELOAD": f"{lib} {preload}".strip()}
    return env


def allocator_in_use() -> str:
    """The malloc this process runs on: 'tcmalloc' when preloaded, else the C library's."""
    try:
        maps = Path("/proc/self/maps").read_text()
    except OSError:
        return "system"
    return "tcmalloc" if "tcmalloc" in maps else "glibc"
