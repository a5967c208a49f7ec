"""A worker's environment: OpenMP threads that sleep while waiting, tcmalloc preloaded where the system has it
(never twice, kept beside another preload), and STUDIO_MALLOC=system keeping the C library's malloc."""

import ctypes.util

import pytest

from studio.core import machine


def test_worker_env(monkeypatch: pytest.MonkeyPatch) -> None:
    machine.tcmalloc.cache_clear()
    monkeypatch.setattr(ctypes.util, "find_library",
                        lambda name: "libtcmalloc_minimal.so.4" if name == "tcmalloc_minimal" else None)
    env = machine.worker_env({"PATH": "/bin"})
    assert env == {"PATH": "/bin", "OMP_WAIT_POLICY": "PASSIVE", "LD_PRELOAD": "libtcmalloc_minimal.so.4",
                   "TCMALLOC_LARGE_ALLOC_REPORT_THRESHOLD": str(2**40)}
    assert machine.worker_env(env)["LD_PRELOAD"] == "libtcmalloc_minimal.so.4"  # not twice
    assert machine.worker_env({"LD_PRELOAD": "libx.so"})["LD_PRELOAD"] == "libtcmalloc_minimal.so.4 libx.so"
    assert machine.worker_env({"OMP_WAIT_POLICY": "ACTIVE"})["OMP_WAIT_POLICY"] == "ACTIVE"  # the operator's choice
    machine.tcmalloc.cache_clear()
    monkeypatch.setenv("STUDIO_MALLOC", "system")
    assert "LD_PRELOAD" not in machine.worker_env({})
    machine.tcmalloc.cache_clear()


def test_allocator_in_use_reads_this_process() -> None:
    assert machine.allocator_in_use() in ("tcmalloc", "glibc")
