"""The memory estimate's arithmetic on the demo model's real headers: parameters, LoRA's trainable count,
bytes per part, and what ZeRO-3 divides."""

from __future__ import annotations

import math
from pathlib import Path

from studio.core.config import RunConfig
from studio.model.info import tensor_shapes
from studio.model.memory import estimate


def test_estimate_counts_parameters_and_lora_adapters(demo_model: Path) -> None:
    shapes = tensor_shapes(demo_model)
    params = sum(math.prod(s) for s in shapes.values())
    lora = estimate(demo_model, RunConfig(lora_rank=4), gpu=False)
    assert lora is not None and lora.parameters == params
    linear = [s for n, s in shapes.items() if len(s) == 2 and ".layers." in n and n.endswith(".weight")]
    assert lora.trainable == sum(4 * (i + o) for o, i in linear)
    assert lora.weights == 4.0 * params and lora.gradients == 4.0 * lora.trainable
    assert lora.optimizer == 8.0 * lora.trainable
    full = estimate(demo_model, RunConfig(finetuning_type="full"), gpu=False)
    assert full is not None and full.trainable == params and full.total > lora.total
    sharded = estimate(demo_model, RunConfig(finetuning_type="full", num_processes=4,
                                             distributed="deepspeed_zero3"), gpu=False)
    assert sharded is not None and sharded.weights == full.weights / 4 and sharded.optimizer == full.optimizer / 4
    longer = estimate(demo_model, RunConfig(cutoff_len=2048), gpu=False)
    assert longer is not None and longer.activations > lora.activations
    assert estimate(demo_model.parent, RunConfig(), gpu=False) is None  # no safetensors here
