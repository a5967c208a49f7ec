"""Curves from metrics.jsonl: the series each chart shows, and a smoothing that never redraws the past."""

from __future__ import annotations

import math
from typing import Any

SMOOTH_WEIGHT = 0.8


def smooth(values: list[float], weight: float = SMOOTH_WEIGHT) -> list[float]:
    """Bias-corrected exponential moving average: each point depends only on earlier ones and a fixed weight,
    so the curve keeps its shape as new points arrive (a window sized by the run's length would not)."""
    out, avg = [], 0.0
    for n, value in enumerate(values, 1):
        avg = weight * avg + (1 - weight) * value
        out.append(avg / (1 - weight**n))
    return out


def series(metrics: list[dict[str, Any]], key: str) -> tuple[list[int], list[float]]:
    points = [(int(m["step"]), float(m[key])) for m in metrics if isinstance(m.get(key), int | float)
              and math.isfinite(m[key])]
    return [s for s, _ in points], [v for _, v in points]

