"""Memory by phase of a worker: each phase's peak and what stays resident after it, for status.json and the log.

Linux keeps one resident-memory high-water mark per process (VmHWM); writing 5 to /proc/self/clear_refs resets it,
so each phase's peak is its own and not the imports' or the model's. On CUDA the allocator's peak is reset the
same way (torch.cuda.reset_peak_memory_stats). A phase met again (training between evaluations) keeps its max."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

MIB = 2**20


def _proc_status() -> dict[str, float]:
    """VmRSS and VmHWM of this process in MiB ({} where /proc is not there)."""
    try:
        lines = Path("/proc/self/status").read_text().splitlines()
    except OSError:
        return {}
    return {ln.split(":")[0]: int(ln.split()[1]) / 1024 for ln in lines if ln.startswith(("VmRSS:", "VmHWM:"))}


def _reset_peak() -> None:
    try:
        Path("/proc/self/clear_refs").write_text("5")
    except OSError:
        pass


def _cuda() -> Any:
    torch = sys.modules.get("torch")  # never imported just to ask: a worker that has not loaded torch has no GPU use
    return torch.cuda if torch is not None and torch.cuda.is_available() else None


class Phases:
    """`mark(name)` closes the phase that ran since the last mark. `peak_mb` is the process's peak over all phases."""

    def __init__(self) -> None:
        self.rows: dict[str, dict[str, float]] = {}
        self.overall = 0.0

    def mark(self, name: str) -> dict[str, float]:
        now = _proc_status()
        row = self.rows.setdefault(name, {"peak_mb": 0.0})
        if now:
            row["peak_mb"] = round(max(row["peak_mb"], now["VmHWM"]), 1)
            row["rss_mb"] = round(now["VmRSS"], 1)
            self.overall = max(self.overall, now["VmHWM"])
        if (cuda := _cuda()) is not None:
            row["gpu_peak_mb"] = round(max(row.get("gpu_peak_mb", 0.0), cuda.max_memory_allocated() / MIB), 1)
            row["gpu_mb"] = round(cuda.memory_allocated() / MIB, 1)
            cuda.reset_peak_memory_stats()
        _reset_peak()
        return row

    def release(self) -> None:
        """Give the memory the allocator keeps cached back to the system (after training: saving and the per-row pass
        need a fraction of it, and other processes may want it)."""
        import ctypes

        libc = ctypes.CDLL(None)
        for name in ("MallocExtension_ReleaseFreeMemory", "malloc_trim"):  # tcmalloc's, then glibc's
            fn = getattr(libc, name, None)
            if fn is not None:
                fn(*([0] if name == "malloc_trim" else []))
                return

    def peak_mb(self) -> float:
        """The whole process's peak: the phases' peaks and whatever ran since the last mark."""
        return round(max(self.overall, _proc_status().get("VmHWM", 0.0)), 1)  # rounded as the phases are

    def table(self) -> list[dict[str, Any]]:
        """For status.json: one entry per phase, in the order they first ran."""
        return [{"phase": name, **row} for name, row in self.rows.items()]

    def line(self, name: str) -> str:
        row = self.rows[name]
        text = f"memory {name}: peak {row['peak_mb']:.0f} MiB, resident after {row.get('rss_mb', 0):.0f} MiB"
        if "gpu_peak_mb" in row:
            text += f"; GPU peak {row['gpu_peak_mb']:.0f} MiB allocated, {row['gpu_mb']:.0f} MiB after"
        return text
