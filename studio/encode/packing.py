"""Packing: several encoded examples per row, no padding between them, no attention across them.

Each example keeps its own position ids (restarting at 0); with no attention mask and no KV cache,
transformers reads restarts as sequence boundaries, so a packed row computes what the examples
would compute one by one. The first token of every example is unlabelled: in a packed row the
token before it belongs to another example, and alone it would have had no predecessor at all.
"""

from __future__ import annotations

import bisect
from collections.abc import Iterable, Sequence
from typing import Any

from studio.encode.encoder import IGNORE

Row = dict[str, list[int]]


def knapsacks(lengths: Sequence[int], capacity: int) -> list[list[int]]:
    """Greedy first-fit-decreasing by binary search: lists of example indices whose lengths sum <= capacity."""
    order = sorted(range(len(lengths)), key=lengths.__getitem__)
    sizes = [lengths[i] for i in order]
    bins: list[list[int]] = []
    while order:
        room, current = capacity, []
        while True:
            at = bisect.bisect_right(sizes, room) - 1
            if at < 0:
                break
            room -= sizes.pop(at)
            current.append(order.pop(at))
        if not current:  # longer than the capacity: a row of its own (encoding already cut it to cutoff_len)
            current.append(order.pop())
            sizes.pop()
        bins.append(current)
    return bins


def pack(rows: Sequence[Row], capacity: int) -> list[Row]:
    packed = []
    for members in knapsacks([len(r["input_ids"]) for r in rows], capacity):
        ids: list[int] = []
        labels: list[int] = []
        positions: list[int] = []
        for i in members:
            r = rows[i]
            ids += r["input_ids"]
            labels += [IGNORE] + list(r["labels"][1:])
            positions += range(len(r["input_ids"]))
        packed.append({"input_ids": ids, "labels": labels, "position_ids": positions})
    return packed


def efficiency(batches: Iterable[Sequence[Row]]) -> float:
    """Real tokens / tokens computed (real + padding), over batches padded to their longest row."""
    real = total = 0
    for batch in batches:
        lengths = [len(r["input_ids"]) for r in batch]
        real += sum(lengths)
        total += max(lengths) * len(lengths)
    return real / total if total else 1.0


def batched(rows: Sequence[Any], size: int) -> list[Sequence[Any]]:
    return [rows[i:i + size] for i in range(0, len(rows), size)]
