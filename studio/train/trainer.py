"""The Trainer a run uses: seeded train / validation split, collator, evaluation, early stopping, graceful abort."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from studio.core.config import RunConfig
from studio.core.errors import StudioError
from studio.core.workspace import Workspace
from studio.encode.encoder import IGNORE, Options, pad_batch
from studio.encode.packing import pack
from studio.model.load import model_path, pick_dtype, say
from studio.train import trackers
from studio.train.flops import FlopCount, row_lengths

DS_CONFIGS = {"deepspeed_zero2": "ds_zero2.json", "deepspeed_zero3": "ds_zero3.json"}
SEQ_LENGTHS = "seq_lengths"


@dataclass
class Splits:
    train: Any  # what the Trainer iterates: packed rows, or the encoded rows themselves
    rows: Any  # the training rows unpacked (with their "source"), for the per-row loss ranking
    eval: Any | None


def image_inputs(cfg: RunConfig, ws: Workspace, tokenizer: Any) -> ImageInputs | None:
    """The collator's image step for a model that sees images (None for text models and text_only runs)."""
    from studio.model.vision import IMAGE_PAD, ImageSpec, load_image_processor, sees_images

    path = model_path(cfg, ws)
    if cfg.text_only or not sees_images(path):
        return None
    spec = ImageSpec.of(path, cfg.image_max_pixels, cfg.image_min_pixels)
    return ImageInputs(load_image_processor(path), spec, tokenizer.convert_tokens_to_ids(IMAGE_PAD))


def build_dataset(cfg: RunConfig, ws: Workspace, tokenizer: Any) -> Splits:
    """Encoded rows (from the shared cache when the same inputs were encoded before), split, packed if asked."""
    from studio.encode.cache import cached_dataset

    options = Options.of(cfg)
    rows, summary = cached_dataset(ws.cache_dir, ws.registry_file, cfg.dataset, tokenizer,
                                   Path(model_path(cfg, ws)), cfg.template, options)
    if cfg.group_by_length and not cfg.packing and getattr(rows, "_indices", None) is None:
        import pyarrow.compute as pc  # the sampler's lengths from Arrow at once, not by reading every row back

        rows = rows.add_column("length", pc.list_value_length(rows.data.column("input_ids")).to_pylist())
    source = "cache" if summary.cached else f"encoded in {summary.seconds:.2f} s"
    dropped = ", ".join(f"{n} {reason}" for reason, n in summary.dropped.items()) or "none"
    truncated = ", ".join(f"{n} {kind}" for kind, n in summary.truncated.items()) or "none"
    say(f"dataset {cfg.dataset}: {summary.rows} rows, {summary.unusable} unusable, dropped: {dropped}, "
        f"truncated: {truncated}, {summary.kept} used ({source}; template {cfg.template}, "
        f"cutoff_len={cfg.cutoff_len})")
    if not summary.kept:
        raise StudioError("data.no_rows", name=cfg.dataset, total=summary.rows,
                          reason=f"cutoff_len={cfg.cutoff_len} leaves no answer token.")
    evaluation = None
    if cfg.val_size > 0:
        rows, evaluation = split(rows, cfg, summary.rows)
        say(f"validation: {len(evaluation)} rows held out (seed {cfg.seed}), {len(rows)} rows to train on")
    train = rows
    if cfg.packing:
        train = pack([{"input_ids": r["input_ids"], "labels": r["labels"]} for r in rows], cfg.cutoff_len)
        say(f"packing: {len(rows)} examples in {len(train)} rows of at most {cfg.cutoff_len} tokens")
    return Splits(train, rows, evaluation)


def split(rows: Any, cfg: RunConfig, total: int) -> tuple[Any, Any]:
    """(train, held out): the seeded validation share. The Evaluate tab calls it again on the same encoded rows to
    find the very rows a run never trained on."""
    held = max(1, round(len(rows) * cfg.val_size))
    if held >= len(rows):
        raise StudioError("data.no_rows", name=cfg.dataset, total=total,
                          reason=f"val_size={cfg.val_size} leaves no row to train on.")
    parts = rows.train_test_split(test_size=held, seed=cfg.seed)
    return parts["train"], parts["test"]


class Collator:
    """Pads a batch to its longest row and counts real vs computed tokens (the packing efficiency).

    With a vision model's image processor, a batch's images are decoded here (not held for the whole set):
    pixel_values and image_grid_thw for them in row order, and mm_token_type_ids marking the image-pad tokens.
    Text-only rows of an image dataset train as text: a batch with no image carries no pixels at all."""

    def __init__(self, pad_id: int, images: ImageInputs | None = None, lengths: bool = False) -> None:
        self.pad_id, self.images, self.real, self.total = pad_id, images, 0, 0
        self.lengths = lengths  # hand the Trainer each sequence's real length (packed examples one by one)

    def __call__(self, batch: list[dict[str, Any]]) -> dict[str, Any]:
        import torch

        lengths = [len(r["input_ids"]) for r in batch]
        self.real += sum(lengths)
        self.total += max(lengths) * len(lengths)
        out = {k: torch.tensor(v) for k, v in pad_batch(batch, self.pad_id).items()}
        if self.lengths:  # taken out again before the forward (StudioTrainer.compute_loss)
            out[SEQ_LENGTHS] = torch.tensor([n for r in batch for n in row_lengths(r)])
        if self.images is not None:
            out.update(self.images(batch, out["input_ids"]))
        return out

    def metrics(self) -> dict[str, float]:
        return {"packing_efficiency": round(self.real / self.total, 4)} if self.total else {}


class ImageInputs:
    """A batch's images -> the model's image inputs, checked against the grids the encoder counted tokens for."""

    def __init__(self, processor: Any, spec: Any, image_token_id: int) -> None:
        self.processor, self.spec, self.image_token_id = processor, spec, image_token_id

    def __call__(self, batch: list[dict[str, Any]], input_ids: Any) -> dict[str, Any]:
        from studio.model.vision import load_image, pixel_inputs

        out = {"mm_token_type_ids": (input_ids == self.image_token_id).long()}
        paths = [p for r in batch for p in (r.get("images") or [])]
        if not paths:
            return out
        inputs = pixel_inputs(self.processor, [load_image(p, self.spec) for p in paths])
        expected = [list(g) for r in batch for g in (r.get("image_grid_thw") or [])]
        if any(r.get("image_grid_thw") for r in batch) and inputs["image_grid_thw"].tolist() != expected:  # an image changed on disk since it was encoded
            raise StudioError("run.image_changed", paths=", ".join(Path(p).name for p in paths)[:300])
        return out | inputs


class AbortFlag:
    """Set by SIGTERM while the training loop runs; the loop then saves a checkpoint and stops at a step end."""

    def __init__(self) -> None:
        self.requested = False
        self.in_loop = False
        self.stopped = False


def abort_callback(flag: AbortFlag) -> Any:
    from transformers import TrainerCallback

    class AbortCallback(TrainerCallback):
        def on_step_end(self, args: Any, state: Any, control: Any, **kwargs: Any) -> None:
            requested = flag.requested
            if int(os.environ.get("WORLD_SIZE", "1")) > 1:  # every rank must stop at the same step
                import torch
                import torch.distributed as dist

                tensor = torch.tensor([1 if requested else 0], device=args.device)
                dist.all_reduce(tensor, op=dist.ReduceOp.MAX)
                requested = bool(tensor.item())
            if requested:
                flag.stopped = True
                control.should_save = True
                control.should_training_stop = True

    return AbortCallback()


def gpu_peak(phases: Any) -> dict[str, float]:
    """The GPU allocator's training peak so far: the phase marks reset torch's own counter at every step."""
    row = phases.rows.get("training", {}) if phases is not None else {}
    return {"gpu_mem_gb": round(row["gpu_peak_mb"] / 1024, 2)} if "gpu_peak_mb" in row else {}


def phase_callback(phases: Any) -> Any:
    """Training steps and evaluations as separate memory phases (evaluation runs between two steps)."""
    from transformers import TrainerCallback

    class PhaseCallback(TrainerCallback):
        def on_step_end(self, args: Any, state: Any, control: Any, **kwargs: Any) -> None:
            phases.mark("training")

        def on_evaluate(self, args: Any, state: Any, control: Any, **kwargs: Any) -> None:
            phases.mark("evaluation")

    return PhaseCallback()


def answer_only(cfg: RunConfig, model: Any = None) -> bool:
    """Whether the loss is computed at answer positions only: one process, no sharding strategy (DeepSpeed and FSDP
    expect the whole forward to run through their wrapper), and a model whose head allows it."""
    from studio.model.memory import SHARDED
    from studio.train.loss import causal_head

    return (cfg.num_processes * cfg.num_machines == 1 and cfg.distributed not in SHARDED
            and (model is None or causal_head(model) is not None))


def trainer_class() -> Any:
    """The Trainer with a grouped order that a resume repeats, useful FLOPs counted, and the answer-only loss
    (studio.train.loss) where `answer_only` allows it."""
    from transformers import Trainer
    from transformers.trainer_pt_utils import LengthGroupedSampler

    from studio.train.loss import answer_loss, causal_head, head_set_aside

    class SeededGroups(LengthGroupedSampler):
        """Length-grouped order from (seed, epoch) alone. transformers' draws it from the global random state when
        an epoch starts, which a resume mid-epoch cannot reproduce: the rest of the epoch would be other rows."""

        def __init__(self, batch_size: int, lengths: list[int], seed: int) -> None:
            super().__init__(batch_size, lengths=lengths)
            self.seed, self.epoch = seed, 0

        def set_epoch(self, epoch: int) -> None:
            self.epoch = epoch

        def __iter__(self) -> Any:
            import torch
            from transformers.trainer_pt_utils import get_length_grouped_indices

            generator = torch.Generator().manual_seed(self.seed + self.epoch)
            return iter(get_length_grouped_indices(self.lengths, self.batch_size, generator=generator))

    class StudioTrainer(Trainer):
        """Counts the useful FLOPs of each training micro-batch (studio.train.flops) and, where `fast`, computes the
        loss at answer tokens only."""

        counter: FlopCount | None = None
        flops = 0.0
        fast = False

        def _get_train_sampler(self, train_dataset: Any = None) -> Any:
            data = self.train_dataset if train_dataset is None else train_dataset
            if self.args.train_sampling_strategy != "group_by_length" or data is None:
                return super()._get_train_sampler(train_dataset)
            lengths = (data["length"] if "length" in getattr(data, "column_names", ())
                       else [len(row["input_ids"]) for row in data])
            return SeededGroups(self.args.train_batch_size * self.args.gradient_accumulation_steps, list(lengths),
                                self.args.seed)

        def compute_loss(self, model: Any, inputs: dict[str, Any], return_outputs: bool = False,
                         num_items_in_batch: Any = None) -> Any:
            import torch

            lengths = inputs.pop(SEQ_LENGTHS, None)
            parts = (causal_head(model) if self.fast and "labels" in inputs
                     and not isinstance(model, torch.nn.DataParallel) else None)
            if lengths is not None and model.training and self.counter is not None:
                answers = int((inputs["labels"][:, 1:] != IGNORE).sum()) if "labels" in inputs else 0
                self.flops += self.counter.batch(lengths.tolist(), answers, answer_only=parts is not None)
            if parts is None:
                return super().compute_loss(model, inputs, return_outputs, num_items_in_batch)
            inner, head = parts
            with head_set_aside(inner):
                hidden = model(**{k: v for k, v in inputs.items() if k != "labels"}, use_cache=False).logits
            loss = answer_loss(hidden, head, inputs["labels"], num_items_in_batch)
            return (loss, {"loss": loss}) if return_outputs else loss

    return StudioTrainer


def _strategy_args(cfg: RunConfig) -> dict[str, Any]:
    from studio.core.presets import PRESETS_DIR

    if cfg.distributed in DS_CONFIGS:
        return {"deepspeed": str(PRESETS_DIR / "distributed" / DS_CONFIGS[cfg.distributed])}
    if cfg.distributed == "fsdp":
        import json

        fsdp = json.loads((PRESETS_DIR / "distributed" / "fsdp.json").read_text(encoding="utf-8"))
        return {"fsdp": fsdp.pop("fsdp"), "fsdp_config": fsdp}
    return {}


def build_trainer(cfg: RunConfig, run_dir: Path, model: Any, tokenizer: Any, splits: Splits,
                  flag: AbortFlag, elapsed_offset: float = 0.0, images: ImageInputs | None = None,
                  phases: Any = None, flops_offset: float = 0.0, collate: Any = None, trainer_cls: Any = None) -> Any:
    import torch
    from transformers import EarlyStoppingCallback, PrinterCallback, TrainingArguments

    from studio.train.progress import MetricsCallback

    dtype = pick_dtype(cfg)
    evaluating = splits.eval is not None
    stopping = evaluating and cfg.early_stopping_patience > 0
    report_to, tracker_callbacks = trackers.setup(cfg.report_to, run_dir, run_dir.name)
    args = TrainingArguments(
        output_dir=str(run_dir),
        per_device_train_batch_size=cfg.per_device_train_batch_size,
        per_device_eval_batch_size=cfg.per_device_train_batch_size,
        gradient_accumulation_steps=cfg.gradient_accumulation_steps,
        learning_rate=cfg.learning_rate,
        num_train_epochs=cfg.num_train_epochs,
        max_steps=cfg.max_steps or -1,
        lr_scheduler_type=cfg.lr_scheduler_type,
        warmup_steps=cfg.warmup_ratio,  # a float below 1 is a share of the steps
        max_grad_norm=cfg.max_grad_norm,
        bf16=dtype == torch.bfloat16,
        fp16=dtype == torch.float16,
        activation_checkpointing=cfg.gradient_checkpointing,
        train_sampling_strategy="group_by_length" if cfg.group_by_length else "random",
        eval_strategy="steps" if evaluating else "no",
        eval_steps=cfg.eval_steps,
        load_best_model_at_end=stopping,
        metric_for_best_model="eval_loss" if stopping else None,
        greater_is_better=False if stopping else None,
        logging_steps=cfg.logging_steps,
        save_steps=cfg.save_steps,
        save_total_limit=cfg.save_total_limit,
        seed=cfg.seed,
        # packed rows carry no attention mask to count by; their padding is the last row's tail (<1% here)
        include_num_input_tokens_seen="all" if cfg.packing else "non_padding",
        remove_unused_columns=False,
        disable_tqdm=True,  # progress goes to metrics.jsonl / status.json, not carriage returns in the log
        report_to=report_to or "none",
        use_cpu=not torch.cuda.is_available(),
        ddp_find_unused_parameters=False if cfg.finetuning_type != "full" else None,
        **_strategy_args(cfg),
    )
    fast_loss = answer_only(cfg, model)
    what = "log-probabilities" if collate is not None else "loss"
    say(f"{what}: at answer tokens only, the output layer a chunk at a time" if fast_loss else
        f"{what}: the model's own (several processes, DeepSpeed / FSDP, or a model type whose output layer is not "
        "known to be a plain projection)")
    preference = collate is not None  # a preference run brings its collator and Trainer (studio.train.preference)
    collate = collate or Collator(tokenizer.pad_token_id, images, lengths=True)
    metrics = MetricsCallback(run_dir, elapsed_offset=elapsed_offset)
    callbacks = [metrics,
                 abort_callback(flag), *tracker_callbacks]
    if phases is not None:
        callbacks.append(phase_callback(phases))
    if stopping:
        callbacks.append(EarlyStoppingCallback(early_stopping_patience=cfg.early_stopping_patience))
    trainer = (trainer_cls or trainer_class())(model=model, args=args, train_dataset=splits.train, eval_dataset=splits.eval,
                  data_collator=collate, callbacks=callbacks)
    trainer.cfg = cfg
    trainer.fast, trainer.counter, trainer.flops = fast_loss, FlopCount.of(model, fast_loss), flops_offset
    # the useful FLOPs since the run's first start (a resume continues the count of its last metrics line)
    metrics.extra = lambda: (collate.metrics() if not preference else {}) | {"flops": float(f"{trainer.flops:.6g}")} | gpu_peak(phases)
    trainer.remove_callback(PrinterCallback)  # MetricsCallback prints one line per log instead
    return trainer
