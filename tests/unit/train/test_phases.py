"""Memory by phase: each phase's own peak (not an earlier phase's), what stays resident after it, the whole peak."""

import numpy as np

from studio.train.phases import Phases


def test_each_phase_has_its_own_peak() -> None:
    phases = Phases()
    phases.mark("start")
    block = np.ones(64 * 2**20 // 8)  # 64 MiB, touched
    del block
    big = phases.mark("big")
    after = phases.mark("after")
    assert big["peak_mb"] >= phases.rows["start"]["rss_mb"] + 60
    assert after["peak_mb"] < big["peak_mb"] - 50  # the reset: the next phase does not inherit the peak
    assert phases.peak_mb() >= big["peak_mb"]
    assert [r["phase"] for r in phases.table()] == ["start", "big", "after"]
    assert phases.line("big").startswith("memory big: peak ")
