"""Loading what a run trains: tokenizer (template stop word as EOS), model by method (lora, full, freeze, QLoRA)."""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from studio.core.config import RunConfig
from studio.core.errors import StudioError
from studio.core.rundir import ADAPTER_DIR, MODEL_DIR
from studio.core.workspace import Workspace
from studio.model.info import check_remote_code
from studio.templates.named import AUTO, get_template


def is_main_process() -> bool:
    """Rank 0 of a distributed launch, or the only process."""
    return os.environ.get("RANK", "0") == "0"


def say(message: str) -> None:
    """One line in train.log, from the main process only (the others would repeat it)."""
    if is_main_process():
        print(f"[studio] {message}", flush=True)


def model_path(cfg: RunConfig, ws: Workspace) -> str:
    local = ws.root / cfg.model_name_or_path
    return str(local) if local.exists() else cfg.model_name_or_path


def adapter_path(cfg: RunConfig, ws: Workspace) -> str:
    """The Start-from adapter: a folder in the workspace (runs/<id>/adapter), or a path as given."""
    local = ws.root / cfg.adapter_name_or_path
    return str(local) if local.exists() else cfg.adapter_name_or_path


@contextlib.contextmanager
def fetch_errors(cfg: RunConfig, ws: Workspace) -> Iterator[None]:
    """A model named by hub id that cannot be read or downloaded: one sentence naming it and the reason."""
    try:
        yield
    except OSError as exc:
        if (ws.root / cfg.model_name_or_path).exists():
            raise
        reason = next((ln.strip() for ln in str(exc).splitlines() if ln.strip()), type(exc).__name__)
        raise StudioError("run.model_fetch", path=cfg.model_name_or_path, reason=reason[:300]) from exc


def output_dir_name(cfg: RunConfig) -> str:
    """LoRA writes an adapter; full and freeze write a whole model."""
    return ADAPTER_DIR if cfg.finetuning_type == "lora" else MODEL_DIR


def load_tokenizer(cfg: RunConfig, ws: Workspace) -> Any:
    """The model's tokenizer with the template's stop token as EOS, so the saved output's tokenizer stops."""
    from transformers import AutoTokenizer

    from studio.templates.registry import eos_id

    trust = check_remote_code(model_path(cfg, ws), cfg.trust_remote_code)
    tok = AutoTokenizer.from_pretrained(model_path(cfg, ws), trust_remote_code=trust)
    if cfg.template != AUTO:
        template = get_template(cfg.template)
        if template.replace_eos and (stop := eos_id(template, tok)) is not None and stop != tok.eos_token_id:
            say(f"EOS token set to {template.stop_words[0]} (template {cfg.template})")
            tok.eos_token = template.stop_words[0]
    if tok.pad_token_id is None:
        tok.pad_token = tok.eos_token
    return tok


def pick_dtype(cfg: RunConfig) -> Any:
    """auto: bf16 on a GPU that has it, fp16 on an older GPU, fp32 on CPU."""
    import torch

    if cfg.precision == "auto":
        if not torch.cuda.is_available():
            return torch.float32
        return torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float16
    return {"fp32": torch.float32, "bf16": torch.bfloat16, "fp16": torch.float16}[cfg.precision]


def _quantization(cfg: RunConfig, dtype: Any) -> Any:
    if cfg.quantization == "none":
        return None
    from transformers import BitsAndBytesConfig

    if cfg.quantization == "8bit":
        return BitsAndBytesConfig(load_in_8bit=True)
    return BitsAndBytesConfig(load_in_4bit=True, bnb_4bit_quant_type="nf4", bnb_4bit_use_double_quant=True,
                              bnb_4bit_compute_dtype=dtype)


def _freeze(model: Any, layers: int) -> str:
    """Train only the last `layers` decoder layers (and nothing else): LLaMA-Factory's freeze method."""
    count = getattr(model.config, "num_hidden_layers", 0)
    keep = {str(i) for i in range(max(0, count - layers), count)}
    for name, param in model.named_parameters():
        parts = name.split(".")
        in_layer = "layers" in parts and parts[parts.index("layers") + 1] in keep
        param.requires_grad_(in_layer)
    return f"last {min(layers, count)} of {count} layers"


LANGUAGE_LINEAR = r"(q_proj|k_proj|v_proj|o_proj|gate_proj|up_proj|down_proj)"
VISION_LINEAR = r"(qkv|attn\.proj|fc1|fc2)"


def _vision_parts(model: Any, cfg: RunConfig) -> tuple[Any, list[str]]:
    """LoRA targets and fully trained modules of a vision-language model: the language model's linear layers
    (named ones, or all of them), the vision tower's blocks when it is not frozen, the projector when not."""
    names = LANGUAGE_LINEAR if cfg.lora_target == "all" else "(" + "|".join(
        t.strip() for t in cfg.lora_target.split(",")) + ")"
    pattern = rf".*language_model.*\.{names}"
    if not cfg.freeze_vision_tower:
        pattern = rf"({pattern}|.*visual\.blocks\.\d+\..*{VISION_LINEAR})"
    return pattern, [] if cfg.freeze_multi_modal_projector else ["merger"]


def _freeze_vision(model: Any, cfg: RunConfig) -> None:
    """Full / freeze on a vision-language model: the tower and the projector stay as they are unless asked."""
    for name, param in model.named_parameters():
        if ".merger." in name and cfg.freeze_multi_modal_projector:
            param.requires_grad_(False)
        elif "visual." in name and ".merger." not in name and cfg.freeze_vision_tower:
            param.requires_grad_(False)


def load_model(cfg: RunConfig, ws: Workspace) -> Any:
    import torch
    from transformers import AutoModelForCausalLM, AutoModelForImageTextToText

    from studio.model.vision import sees_images

    dtype = pick_dtype(cfg)
    quant = _quantization(cfg, dtype)
    vision = sees_images(model_path(cfg, ws))
    # Full and freeze keep fp32 master weights; the Trainer's autocast gives the bf16/fp16 speed.
    load_dtype = dtype if cfg.finetuning_type == "lora" else torch.float32
    auto = AutoModelForImageTextToText if vision else AutoModelForCausalLM
    model = auto.from_pretrained(
        model_path(cfg, ws), dtype=load_dtype, trust_remote_code=check_remote_code(model_path(cfg, ws),
                                                                                   cfg.trust_remote_code),
        use_safetensors=True,
        quantization_config=quant)
    model.config.use_cache = False  # no KV cache while training (it also keeps packed rows apart)
    if cfg.finetuning_type == "lora":
        from peft import LoraConfig, get_peft_model, prepare_model_for_kbit_training

        if quant is not None:
            model = prepare_model_for_kbit_training(model, use_gradient_checkpointing=cfg.gradient_checkpointing)
        if cfg.adapter_name_or_path:  # continue an earlier result: its matrices, rank and targets, trainable
            from peft import PeftModel

            start = adapter_path(cfg, ws)
            model = PeftModel.from_pretrained(model, start, is_trainable=True)
            what = f"LoRA continued from {cfg.adapter_name_or_path} (r={model.peft_config['default'].r})"
        else:
            targets: Any = "all-linear" if cfg.lora_target == "all" else [
                t.strip() for t in cfg.lora_target.split(",")]
            full: list[str] = []
            if vision:
                targets, full = _vision_parts(model, cfg)
            lora = LoraConfig(r=cfg.lora_rank, lora_alpha=cfg.lora_alpha, lora_dropout=cfg.lora_dropout,
                              target_modules=targets, use_dora=cfg.use_dora, use_rslora=cfg.use_rslora,
                              modules_to_save=full or None, task_type="CAUSAL_LM")
            model = get_peft_model(model, lora)
            what = f"LoRA r={cfg.lora_rank}" + (" DoRA" if cfg.use_dora else "") + (
                " rsLoRA" if cfg.use_rslora else "")
        what += f", base in {cfg.quantization}" if quant is not None else ""
    elif cfg.finetuning_type == "freeze":
        what = "freeze: " + _freeze(model, cfg.freeze_trainable_layers)
    else:
        what = "full"
    if vision:
        if cfg.finetuning_type != "lora":
            _freeze_vision(model, cfg)
        what += "; vision tower " + ("frozen" if cfg.freeze_vision_tower else "trained")
        what += ", projector " + ("frozen" if cfg.freeze_multi_modal_projector else "trained")
    trainable = sum(p.numel() for p in model.parameters() if p.requires_grad)
    total = sum(p.numel() for p in model.parameters())
    # the same three words the memory estimate uses: base (the model's own), trainable, total (base + adapter)
    base = total - trainable if cfg.finetuning_type == "lora" else total
    say(f"model {model_path(cfg, ws)}: base {base:,} parameters, trainable {trainable:,}, total {total:,} ({what})")
    return model


def save_output(cfg: RunConfig, model: Any, tokenizer: Any, run_dir: Path, processor: Any = None) -> Path:
    """The final adapter (lora) or model (full, freeze) with its tokenizer (and image processor), as safetensors."""
    target = run_dir / output_dir_name(cfg)
    model.save_pretrained(target, safe_serialization=True)
    tokenizer.save_pretrained(target)
    if processor is not None:
        processor.save_pretrained(target)
    return target
