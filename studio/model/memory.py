"""What a run will need per device, from safetensors headers and config.json only (nothing is loaded): weights,
gradients, AdamW state and activations at batch x cutoff, against the device's memory."""

from __future__ import annotations

import json
import math
import re
from dataclasses import dataclass
from pathlib import Path

from studio.core.config import RunConfig
from studio.core.machine import device_memory
from studio.model.info import tensor_shapes

GIB = 2**30
LOGIT_CHUNK_ELEMENTS = 2**25  # the answer-only loss's logits at a time (128 MiB in fp32)
# model types whose forward computes logits = lm_head(hidden) and nothing more (no scale, cap or vocabulary slice):
# the answer-only loss (studio.train.loss) computes exactly their loss. Any other keeps its own.
ANSWER_LOSS_TYPES = frozenset({"llama", "mistral", "mixtral", "qwen2", "qwen2_moe", "qwen3", "qwen3_moe", "qwen2_vl",
                               "qwen2_5_vl", "phi3", "gemma", "olmo2", "glm4"})
SHARDED = ("deepspeed_zero2", "deepspeed_zero3", "fsdp")


def answer_loss_applies(cfg: RunConfig, model_type: str) -> bool:
    """One process without a sharding strategy, and a model whose head is a plain projection."""
    return (cfg.num_processes * cfg.num_machines == 1 and cfg.distributed not in SHARDED
            and model_type in ANSWER_LOSS_TYPES)


@dataclass(frozen=True)
class Estimate:
    parameters: int
    trainable: int
    weights: float  # bytes, per device
    gradients: float
    optimizer: float
    activations: float
    device: str
    device_bytes: float | None
    answer_only: bool = False  # the loss at answer tokens only (studio.train.loss): logits a chunk at a time

    @property
    def total(self) -> float:
        return self.weights + self.gradients + self.optimizer + self.activations

    @property
    def fits(self) -> bool | None:
        return None if not self.device_bytes else self.total <= 0.92 * self.device_bytes


def _trainable(cfg: RunConfig, shapes: dict[str, list[int]], layers: int) -> int:
    if cfg.finetuning_type == "full":
        return sum(math.prod(s) for s in shapes.values())
    if cfg.finetuning_type == "freeze":
        last = set(range(max(0, layers - cfg.freeze_trainable_layers), layers))
        return sum(math.prod(s) for n, s in shapes.items()
                   if (m := re.search(r"\.layers\.(\d+)\.", n)) and int(m.group(1)) in last)
    targets = None if cfg.lora_target == "all" else [t.strip() for t in cfg.lora_target.split(",")]
    total = 0
    for name, shape in shapes.items():
        if len(shape) != 2 or ".layers." not in name or not name.endswith(".weight"):
            continue  # LoRA's all-linear skips embeddings and the output head
        if targets and not any(f".{t}." in name for t in targets):
            continue
        out_f, in_f = shape
        total += cfg.lora_rank * (in_f + out_f) + (out_f if cfg.use_dora else 0)
    return total


def estimate(model: Path, cfg: RunConfig, gpu: bool) -> Estimate | None:
    """Bytes per device for weights, gradients, AdamW state and activations at batch x cutoff; None without
    local safetensors (a hub id not downloaded yet)."""
    shapes = tensor_shapes(model)
    config_file = model / "config.json"
    if not shapes or not config_file.exists():
        return None
    conf = json.loads(config_file.read_text(encoding="utf-8"))
    conf = {**conf, **conf.get("text_config", {})}  # a vision-language model: its language model's sizes
    hidden, layers = int(conf.get("hidden_size", 0)), int(conf.get("num_hidden_layers", 0))
    vocab = int(conf.get("vocab_size", 0))
    params = sum(math.prod(s) for s in shapes.values())
    trainable = _trainable(cfg, shapes, layers)
    half = gpu and cfg.precision != "fp32"
    if cfg.finetuning_type != "lora":
        weight_bytes = 4.0 * params  # fp32 master weights (autocast computes in 16 bits)
    elif cfg.quantization != "none":
        linear = sum(math.prod(s) for n, s in shapes.items() if len(s) == 2 and ".layers." in n)
        weight_bytes = (0.55 if cfg.quantization == "4bit" else 1.05) * linear + 2.0 * (params - linear)
    else:
        weight_bytes = (2.0 if half else 4.0) * params
    world = cfg.num_processes * cfg.num_machines
    grads, optim = 4.0 * trainable, 8.0 * trainable  # fp32 gradients; AdamW's two moments
    if cfg.distributed in ("deepspeed_zero2", "deepspeed_zero3", "fsdp"):
        grads, optim = grads / world, optim / world
    if cfg.distributed in ("deepspeed_zero3", "fsdp"):
        weight_bytes /= world
    tokens = cfg.per_device_train_batch_size * max(cfg.cutoff_len, 1)
    act = 2.0 if half else 4.0
    # ~34 bytes x hidden per token per layer at 16 bits with memory-efficient attention (Korthikanti et al.);
    # checkpointing keeps only each layer's input plus one layer being recomputed. Logits: value, fp32 copy, grad
    # for the whole batch with a distributed launch; one chunk of them with the answer-only loss (studio.train.loss).
    per_layer = 17.0 * act * hidden * tokens
    layers_bytes = (act * hidden * tokens * layers + per_layer) if cfg.gradient_checkpointing else per_layer * layers
    answer_only = answer_loss_applies(cfg, str(conf.get("model_type", "")))
    logits = min(tokens * vocab, LOGIT_CHUNK_ELEMENTS) if answer_only else tokens * vocab
    activations = layers_bytes + logits * (act + 8.0)
    name, total = device_memory()
    return Estimate(params, trainable, weight_bytes, grads, optim, activations, name, total, answer_only)
