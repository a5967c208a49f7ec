"""The training worker: `python -m studio.train RUN_DIR` reads config.yaml and writes the run-directory files."""

from __future__ import annotations

import os
import signal
import sys
import time
import traceback
import warnings
from pathlib import Path
from typing import Any

from studio import config as cfgmod
from studio.checks import check_environment
from studio.config import RunConfig
from studio.encode import Options, pad_batch
from studio.errors import StudioError
from studio.packing import pack
from studio.rundir import ADAPTER_DIR, CONFIG_FILE, update_status
from studio.templates import AUTO, get_template
from studio.workspace import Workspace


class Aborted(BaseException):
    """Raised by SIGTERM, so that the run records 'aborted' instead of dying mid-step unreported."""


def _on_sigterm(signum: int, frame: object) -> None:
    raise Aborted()


def say(message: str) -> None:
    print(f"[studio] {message}", flush=True)


# setup ---------------------------------------------------------------------------------------------

def model_path(cfg: RunConfig, ws: Workspace) -> str:
    local = ws.root / cfg.model_name_or_path
    return str(local) if local.exists() else cfg.model_name_or_path


def load_tokenizer(cfg: RunConfig, ws: Workspace):
    """The model's tokenizer with the template's stop token as EOS, so the saved adapter's tokenizer stops."""
    from transformers import AutoTokenizer

    from studio.encode import eos_id

    tok = AutoTokenizer.from_pretrained(model_path(cfg, ws), trust_remote_code=cfg.trust_remote_code)
    if cfg.template != AUTO:
        template = get_template(cfg.template)
        if template.replace_eos and (stop := eos_id(template, tok)) is not None and stop != tok.eos_token_id:
            say(f"EOS token set to {template.stop_words[0]} (template {cfg.template})")
            tok.eos_token = template.stop_words[0]
    if tok.pad_token_id is None:
        tok.pad_token = tok.eos_token
    return tok


def pick_dtype(cfg: RunConfig):
    import torch

    if cfg.precision == "auto":
        gpu_bf16 = torch.cuda.is_available() and torch.cuda.is_bf16_supported()
        return torch.bfloat16 if gpu_bf16 else torch.float32
    return {"fp32": torch.float32, "bf16": torch.bfloat16, "fp16": torch.float16}[cfg.precision]


def load_model(cfg: RunConfig, ws: Workspace):
    from peft import LoraConfig, get_peft_model
    from transformers import AutoModelForCausalLM

    model = AutoModelForCausalLM.from_pretrained(
        model_path(cfg, ws), dtype=pick_dtype(cfg), trust_remote_code=cfg.trust_remote_code, use_safetensors=True)
    model.config.use_cache = False  # no KV cache while training (it also keeps packed rows apart)
    targets = "all-linear" if cfg.lora_target == "all" else [t.strip() for t in cfg.lora_target.split(",")]
    lora = LoraConfig(r=cfg.lora_rank, lora_alpha=cfg.lora_alpha, lora_dropout=cfg.lora_dropout,
                      target_modules=targets, task_type="CAUSAL_LM")
    model = get_peft_model(model, lora)
    trainable, total = model.get_nb_trainable_parameters()
    say(f"model {model_path(cfg, ws)}: {total:,} parameters, {trainable:,} trainable (LoRA r={cfg.lora_rank})")
    return model


def build_dataset(cfg: RunConfig, ws: Workspace, tokenizer) -> Any:
    """Encoded rows (from the shared cache when the same inputs were encoded before), packed if asked."""
    from studio.tokenized import cached_dataset

    options = Options(cfg.cutoff_len, cfg.train_on_prompt, cfg.mask_history)
    rows, summary = cached_dataset(ws.cache_dir, ws.registry_file, cfg.dataset, tokenizer,
                                   Path(model_path(cfg, ws)), cfg.template, options)
    source = "cache" if summary.cached else f"encoded in {summary.seconds:.2f} s"
    dropped = ", ".join(f"{n} {reason}" for reason, n in summary.dropped.items()) or "none"
    truncated = ", ".join(f"{n} {kind}" for kind, n in summary.truncated.items()) or "none"
    say(f"dataset {cfg.dataset}: {summary.rows} rows, {summary.unusable} unusable, dropped: {dropped}, "
        f"truncated: {truncated}, {summary.kept} used ({source}; template {cfg.template}, "
        f"cutoff_len={cfg.cutoff_len})")
    if not summary.kept:
        raise StudioError("data.no_rows", name=cfg.dataset, total=summary.rows,
                          reason=f"cutoff_len={cfg.cutoff_len} leaves no answer token.")
    if cfg.packing:
        packed = pack([{"input_ids": r["input_ids"], "labels": r["labels"]} for r in rows], cfg.cutoff_len)
        say(f"packing: {summary.kept} examples in {len(packed)} rows of at most {cfg.cutoff_len} tokens")
        return packed
    return rows


class Collator:
    """Pads a batch to its longest row and counts real vs computed tokens (the packing efficiency)."""

    def __init__(self, pad_id: int) -> None:
        self.pad_id, self.real, self.total = pad_id, 0, 0

    def __call__(self, batch: list[dict[str, Any]]) -> dict[str, Any]:
        import torch

        lengths = [len(r["input_ids"]) for r in batch]
        self.real += sum(lengths)
        self.total += max(lengths) * len(lengths)
        return {k: torch.tensor(v) for k, v in pad_batch(batch, self.pad_id).items()}

    def metrics(self) -> dict[str, float]:
        return {"packing_efficiency": round(self.real / self.total, 4)} if self.total else {}


def build_trainer(cfg: RunConfig, run_dir: Path, model, tokenizer, rows):
    import torch
    from transformers import PrinterCallback, Trainer, TrainingArguments

    from studio.progress import MetricsCallback

    dtype = pick_dtype(cfg)
    args = TrainingArguments(
        output_dir=str(run_dir),
        per_device_train_batch_size=cfg.per_device_train_batch_size,
        gradient_accumulation_steps=cfg.gradient_accumulation_steps,
        learning_rate=cfg.learning_rate,
        num_train_epochs=cfg.num_train_epochs,
        max_steps=cfg.max_steps or -1,
        lr_scheduler_type=cfg.lr_scheduler_type,
        warmup_steps=cfg.warmup_ratio,  # a float below 1 is a share of the steps
        bf16=dtype == torch.bfloat16,
        fp16=dtype == torch.float16,
        activation_checkpointing=cfg.gradient_checkpointing,
        train_sampling_strategy="group_by_length" if cfg.group_by_length else "random",
        logging_steps=cfg.logging_steps,
        save_steps=cfg.save_steps,
        save_total_limit=cfg.save_total_limit,
        seed=cfg.seed,
        include_num_input_tokens_seen="non_padding",
        remove_unused_columns=False,
        disable_tqdm=True,  # progress goes to metrics.jsonl / status.json, not carriage returns in the log
        report_to="none",
        use_cpu=not torch.cuda.is_available(),
    )
    collate = Collator(tokenizer.pad_token_id)
    trainer = Trainer(model=model, args=args, train_dataset=rows, data_collator=collate,
                      callbacks=[MetricsCallback(run_dir, extra=collate.metrics)])
    trainer.remove_callback(PrinterCallback)  # MetricsCallback prints one line per log instead
    return trainer


# the recipe ----------------------------------------------------------------------------------------

def run(run_dir: Path) -> None:
    ws = Workspace(run_dir.resolve().parent.parent)  # runs live in WORKSPACE/runs/<id>
    cfg = cfgmod.load(run_dir / CONFIG_FILE)
    if os.environ.get("STUDIO_CACHE_DIR"):  # before transformers / datasets read their cache paths at import
        os.environ.setdefault("HF_HOME", str(ws.cache_dir / "hf"))
    errors = [i for i in check_environment(cfg, ws) if i.level == "error"]
    if errors:
        raise StudioError("run.invalid", count=len(errors), first=errors[0].text())
    import torch

    torch.manual_seed(cfg.seed)
    tokenizer = load_tokenizer(cfg, ws)
    model = load_model(cfg, ws)
    rows = build_dataset(cfg, ws, tokenizer)
    trainer = build_trainer(cfg, run_dir, model, tokenizer, rows)
    say(f"training: {trainer.args.max_steps if trainer.args.max_steps > 0 else 'all'} steps")
    trainer.train()
    model.save_pretrained(run_dir / ADAPTER_DIR)
    tokenizer.save_pretrained(run_dir / ADAPTER_DIR)
    say(f"adapter saved to {run_dir / ADAPTER_DIR}")


def main(run_dir: Path) -> int:
    # peft asks transformers a renamed question on every step; the notice says nothing to the user
    warnings.filterwarnings("ignore", message=".*is_gradient_checkpointing.*", category=FutureWarning)
    signal.signal(signal.SIGTERM, _on_sigterm)
    update_status(run_dir, state="running", pid=os.getpid(), started_at=time.time())
    try:
        run(run_dir)
    except Aborted:
        say("aborted by SIGTERM")
        update_status(run_dir, state="aborted", finished_at=time.time(), exit_code=143)
        return 143
    except StudioError as err:
        say(f"error: {err}")
        update_status(run_dir, state="failed", finished_at=time.time(), exit_code=2, error=str(err),
                      error_key=err.key, error_fields={k: str(v) for k, v in err.fields.items()})
        return 2
    except Exception as exc:  # a bug: keep the traceback in train.log, one line in status
        traceback.print_exc()
        update_status(run_dir, state="failed", finished_at=time.time(), exit_code=1,
                      error=f"{type(exc).__name__}: {exc}".splitlines()[0])
        return 1
    update_status(run_dir, state="finished", finished_at=time.time(), exit_code=0)
    return 0


if __name__ == "__main__":
    if len(sys.argv) != 2:
        print("usage: python -m studio.train RUN_DIR", file=sys.stderr)
        raise SystemExit(2)
    raise SystemExit(main(Path(sys.argv[1])))
