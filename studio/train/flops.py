"""The floating-point work a training step does, counted for what runs (the MFU's numerator).

A matmul of a weight with W elements costs 2W per token forward. Backward costs 2W more to pass the gradient on to
the activations, and 2W more to make the weight's own gradient, only where the weight trains. So per token:
    6W for trained weights (full fine-tuning, freeze's trained layers, LoRA's A and B),
    4W for frozen weights a gradient passes through (LoRA's base model; the layers above freeze's lowest trained one),
    2W for frozen weights below every trained one (freeze: no backward reaches them).
The usual 6 x parameters rule is the first line only: for LoRA it overstates the work by about half.
The output projection runs only on answer tokens when the answer-only loss is on (studio.train.loss).
Attention's own matmuls (QK^T and AV, 2 L^2 d each forward, causal: half of it is used) cost 2 L^2 d per layer for a
sequence of length L and attention width d, 6 L^2 d with backward; packed rows count each example's own length.
Padding and the embedding lookup count nothing: the figure is the useful work, so waste shows as a lower MFU.
A vision tower's work (on image patches) is not counted: the figure is the language model's."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

LAYER = re.compile(r"\.layers\.(\d+)\.")
VISION = ("visual", "vision")


@dataclass(frozen=True)
class FlopCount:
    per_token: float  # every non-pad token: the decoder's matmuls
    per_answer: float  # the output projection, at answer positions (every position without the answer-only loss)
    per_square: float  # x L^2 per sequence: attention over its own length, summed over layers
    answer_only: bool

    def batch(self, lengths: list[int], answers: int, answer_only: bool | None = None) -> float:
        """FLOPs of one micro-batch: `lengths` of its sequences (packed examples one by one), `answers` its labelled
        next-token positions; `answer_only` says where the head ran when it differs from the run's rule."""
        tokens = sum(lengths)
        only = self.answer_only if answer_only is None else answer_only
        return (self.per_token * tokens + self.per_answer * (answers if only else tokens)
                + self.per_square * sum(n * n for n in lengths))

    @classmethod
    def of(cls, model: Any, answer_only: bool) -> FlopCount:
        import torch

        linears = [(name, m) for name, m in model.named_modules()
                   if isinstance(m, torch.nn.Linear) and not any(v in name for v in VISION)]
        trained_layers = [int(found.group(1)) for name, m in linears if m.weight.requires_grad
                          and (found := LAYER.search(name))]
        lowest = min(trained_layers, default=0)
        per_token = per_answer = 0.0
        for name, m in linears:
            size = m.in_features * m.out_features  # not weight.numel(): a 4-bit weight packs two per element
            layer = LAYER.search(name)
            factor = 6 if m.weight.requires_grad else 2 if layer and int(layer.group(1)) < lowest else 4
            if name.endswith("lm_head"):
                per_answer += factor * size
            else:
                per_token += factor * size
        config = model.config
        config = getattr(config, "text_config", None) or config
        width = getattr(config, "num_attention_heads", 0) * (getattr(config, "head_dim", None) or
                                                            config.hidden_size // max(config.num_attention_heads, 1))
        layers = getattr(config, "num_hidden_layers", 0)
        per_square = sum(6 if i >= lowest else 2 for i in range(layers)) * width
        return cls(per_token, per_answer, per_square, answer_only)


def row_lengths(row: dict[str, Any]) -> list[int]:
    """The sequences attention sees in one encoded row: the row itself, or a packed row's examples."""
    positions = row.get("position_ids")
    if not positions:
        return [len(row["input_ids"])]
    starts = [i for i, p in enumerate(positions) if p == 0] + [len(positions)]
    return [b - a for a, b in zip(starts, starts[1:], strict=False)]
