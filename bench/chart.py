"""One horizontal bar chart per bench table, written next to its text output in bench/results/."""

from __future__ import annotations

import textwrap
from pathlib import Path

RESULTS = Path(__file__).resolve().parent / "results"


def bars(name: str, title: str, unit: str, rows: list[tuple[str, float]], baseline: str = "") -> Path:
    """Bars for `rows` (label, value); the baseline's bar is grey and every bar is labelled with its ratio to it."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    RESULTS.mkdir(parents=True, exist_ok=True)
    base = dict(rows).get(baseline) or None
    fig, ax = plt.subplots(figsize=(9, 0.55 * len(rows) + 1.3), dpi=110)
    labels = [label for label, _ in rows][::-1]
    values = [value for _, value in rows][::-1]
    colours = ["#9e9e9e" if label == baseline else "#f97316" for label in labels]
    ax.barh(labels, values, color=colours)
    for y, value in enumerate(values):
        note = (f"{value:,.0f}" if value >= 100 else f"{value:,.3g}") + (f"  ×{value / base:.2f}" if base else "")
        ax.text(value, y, " " + note, va="center", fontsize=8)
    fig.suptitle(textwrap.fill(title, 90), fontsize=10)
    ax.set_xlabel(unit)
    ax.set_xlim(0, max(values) * 1.25 if values else 1)
    ax.spines[["top", "right"]].set_visible(False)
    fig.tight_layout()
    path = RESULTS / f"{name}.png"
    fig.savefig(path)
    plt.close(fig)
    return path
