"""segments -> input_ids + labels (-100 = masked), truncation, and padding a batch to its longest row."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from studio.templates import Segment

IGNORE = -100


class Tokenizer(Protocol):
    pad_token_id: int | None
    eos_token_id: int | None

    def encode(self, text: str, add_special_tokens: bool = ...) -> list[int]: ...


@dataclass(frozen=True)
class Encoded:
    input_ids: list[int]
    labels: list[int]

    @property
    def trained_tokens(self) -> int:
        return sum(label != IGNORE for label in self.labels)


def encode(segments: Iterable[Segment], tokenizer: Tokenizer, cutoff_len: int) -> Encoded | None:
    """Token ids with prompt tokens masked; None when nothing trainable survives the cutoff."""
    ids: list[int] = []
    labels: list[int] = []
    for text, trainable in segments:
        piece = tokenizer.encode(text, add_special_tokens=False)
        ids += piece
        labels += piece if trainable else [IGNORE] * len(piece)
    ids, labels = ids[:cutoff_len], labels[:cutoff_len]
    if not any(label != IGNORE for label in labels):
        return None
    return Encoded(ids, labels)


def pad_batch(rows: Sequence[dict[str, Any]], pad_id: int) -> dict[str, list[list[int]]]:
    """Pad to the longest row of this batch (not to the cutoff): fewer wasted tokens."""
    width = max(len(r["input_ids"]) for r in rows)
    batch: dict[str, list[list[int]]] = {"input_ids": [], "labels": [], "attention_mask": []}
    for r in rows:
        gap = width - len(r["input_ids"])
        batch["input_ids"].append(list(r["input_ids"]) + [pad_id] * gap)
        batch["labels"].append(list(r["labels"]) + [IGNORE] * gap)
        batch["attention_mask"].append([1] * len(r["input_ids"]) + [0] * gap)
    return batch
