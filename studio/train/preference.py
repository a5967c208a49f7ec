"""Stage dpo / kto: the dataset, its collator, the reference log-probabilities, the Trainer, and the pairs still
preferred wrongly after training.

The reference model is the starting model with the adapter switched off (LoRA) or the starting weights (full,
freeze). It never changes during a run, so its log-probabilities are computed once, before the first step, and
kept in the run folder (reference.safetensors): a step then costs the policy's forward and backward only, with no
second model in memory, and a resume reads the very numbers the first start used (they are fingerprinted with the
rows and weights they were computed for). Chosen and rejected answers go through one forward as one batch (2 × batch
rows, length-grouped like SFT rows); a KTO row's answer trains, its KL row runs forward only."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from studio.core.config import RunConfig
from studio.core.errors import StudioError
from studio.core.workspace import Workspace
from studio.encode.encoder import IGNORE, Options, pad_batch
from studio.model.load import model_path, say
from studio.train.pref_loss import AVERAGED, NO_REFERENCE, kto_loss, pair_losses, sequence_logps
from studio.train.trainer import SEQ_LENGTHS, Splits, split

REFERENCE_FILE = "reference.safetensors"
SIDES = {"dpo": ("chosen_", "rejected_"), "kto": ("", "kl_")}  # the two sequences of a row, by column prefix


def build_dataset(cfg: RunConfig, ws: Workspace, tokenizer: Any) -> Splits:
    """Encoded preference rows (cached like SFT rows), with a length column for grouping, split like SFT."""
    import pyarrow.compute as pc

    from studio.encode.cache import cached_dataset

    rows, summary = cached_dataset(ws.cache_dir, ws.registry_file, cfg.dataset, tokenizer,
                                   Path(model_path(cfg, ws)), cfg.template, Options.of(cfg), cfg.stage)
    dropped = ", ".join(f"{n} {reason}" for reason, n in summary.dropped.items()) or "none"
    truncated = ", ".join(f"{n} {kind}" for kind, n in summary.truncated.items()) or "none"
    unit = "pairs" if cfg.stage == "dpo" else "answers"
    say(f"dataset {cfg.dataset}: {summary.rows} rows, {summary.unusable} unusable, dropped: {dropped}, truncated: "
        f"{truncated}, {summary.kept} {unit} used (template {cfg.template}, cutoff_len={cfg.cutoff_len})")
    if not summary.kept:
        from studio.core.messages import render

        reason, _ = summary.dropped.most_common(1)[0] if summary.dropped else ("encode.no_answer_left", 0)
        raise StudioError("data.no_rows", name=cfg.dataset, total=summary.rows, reason=render(reason, "en", detail=""))
    first, second = SIDES[cfg.stage]
    lengths = [max(a, b) for a, b in zip(pc.list_value_length(rows.data.column(first + "input_ids")).to_pylist(),
                                         pc.list_value_length(rows.data.column(second + "input_ids")).to_pylist(),
                                         strict=True)]
    rows = rows.add_column("length", lengths)
    evaluation = None
    if cfg.val_size > 0:
        rows, evaluation = split(rows, cfg, summary.rows)
        say(f"validation: {len(evaluation)} rows held out (seed {cfg.seed}), {len(rows)} rows to train on")
    return Splits(rows, rows, evaluation)


class PreferenceCollator:
    """A batch of B rows -> 2B sequences padded together: chosen then rejected (dpo), answer then KL row (kto)."""

    def __init__(self, pad_id: int, stage: str) -> None:
        self.pad_id, self.first, self.second = pad_id, *SIDES[stage]

    def __call__(self, batch: list[dict[str, Any]]) -> dict[str, Any]:
        import torch

        seqs = [{"input_ids": r[p + "input_ids"], "labels": r[p + "labels"]} for p in (self.first, self.second)
                for r in batch]
        out = {k: torch.tensor(v) for k, v in pad_batch(seqs, self.pad_id).items()}
        out[SEQ_LENGTHS] = torch.tensor([len(s["input_ids"]) for s in seqs])
        if "kto_tag" in batch[0]:
            out["kto_tags"] = torch.tensor([bool(r["kto_tag"]) for r in batch])
        if "reference" in batch[0]:
            out["reference"] = torch.tensor([r["reference"][0] for r in batch] + [r["reference"][1] for r in batch])
        return out


def needs_reference(cfg: RunConfig) -> bool:
    return cfg.stage == "kto" or cfg.pref_loss not in NO_REFERENCE


def reference_logps(model: Any, rows: Any, collate: PreferenceCollator, batch_size: int, fast: bool = True,
                    autocast: Any = None) -> Any:
    """Sum log-probabilities of both sequences of every row under the reference: (rows, 2), in row order. Run on the
    model's device in the training's precision (`autocast`, the Trainer's), so step 0's policy equals it."""
    import contextlib

    import torch

    off = model.disable_adapter() if hasattr(model, "disable_adapter") else contextlib.nullcontext()
    device = next(model.parameters()).device
    lengths = rows["length"]  # one column read, not every row decoded
    order = sorted(range(len(rows)), key=lambda i: lengths[i])
    out = torch.zeros(len(rows), 2)
    was_training = model.training
    model.eval()
    with torch.no_grad(), off, (autocast or contextlib.nullcontext()):
        for start in range(0, len(order), batch_size):
            chunk = order[start:start + batch_size]
            batch = collate([rows[i] for i in chunk])
            batch.pop(SEQ_LENGTHS)
            batch.pop("kto_tags", None)
            sums, _ = sequence_logps(model, {k: v.to(device) for k, v in batch.items()}, fast)
            out[chunk] = torch.stack(sums.float().cpu().split(len(chunk)), dim=1)
    model.train(was_training)
    return out


def _fingerprint(cfg: RunConfig, ws: Workspace, parts: dict[str, Any]) -> str:
    """What the reference numbers depend on: the rows (the datasets' content fingerprints, which follow the data
    file, the encoding and the split), the model and the adapter the run starts from, the loss's averaging."""
    import hashlib
    import json

    from studio.model.info import fingerprint

    weights = []
    for name in (cfg.model_name_or_path, cfg.adapter_name_or_path):
        local = ws.root / name if name else None
        files = ("config.json", "adapter_config.json", *sorted(f.name for f in local.glob("*.safetensors"))) \
            if local is not None and local.is_dir() else ()
        weights.append(list(fingerprint(local, files)) if files else name)
    key = [{k: getattr(v, "_fingerprint", len(v)) for k, v in parts.items()}, weights, cfg.stage, cfg.template,
           cfg.cutoff_len, cfg.pref_loss in AVERAGED]
    return hashlib.sha256(json.dumps(key, default=str).encode()).hexdigest()[:32]


def attach_reference(cfg: RunConfig, ws: Workspace, run_dir: Path, trainer: Any, splits: Splits,
                     collate: PreferenceCollator) -> None:
    """The reference log-probabilities as a column of the Trainer's train and eval rows: read from the run folder
    when a previous start wrote them for the very same rows and weights, else computed now (the model has not
    trained yet) with the Trainer's model on its device, and written there."""
    import time

    from safetensors import safe_open
    from safetensors.torch import load_file, save_file

    if not needs_reference(cfg):
        return
    path = run_dir / REFERENCE_FILE
    parts = {"train": splits.train} | ({"eval": splits.eval} if splits.eval is not None else {})
    stamp = _fingerprint(cfg, ws, parts)
    saved: dict[str, Any] = {}
    if path.exists():
        with safe_open(str(path), "pt") as f:
            if (f.metadata() or {}).get("rows") == stamp:
                saved = load_file(str(path))
    if set(saved) != set(parts) or any(len(saved[k]) != len(v) for k, v in parts.items()):
        if path.exists():
            say(f"{REFERENCE_FILE} was written for other rows or weights: computed again")
        start = time.perf_counter()
        autocast = trainer.autocast_smart_context_manager()
        saved = {k: reference_logps(trainer.model, v, collate, 2 * cfg.per_device_train_batch_size, trainer.fast,
                                    autocast) for k, v in parts.items()}
        tmp = path.with_name(f".{path.name}.tmp")
        save_file(saved, str(tmp), metadata={"rows": stamp})
        tmp.replace(path)
        say(f"reference log-probabilities: {sum(map(len, parts.values()))} rows in {time.perf_counter() - start:.1f} s"
            " (adapter off / starting weights), kept in " + REFERENCE_FILE)
    else:
        say(f"reference log-probabilities read from {REFERENCE_FILE}")
    trainer.train_dataset = splits.train.add_column("reference", saved["train"].tolist())
    if splits.eval is not None:
        trainer.eval_dataset = splits.eval.add_column("reference", saved["eval"].tolist())


def preference_metrics(cfg: RunConfig, model: Any, batch: dict[str, Any], fast: bool = True
                       ) -> tuple[Any, dict[str, Any]]:
    """The batch's loss and its reward metrics (tensors, averaged by the caller over the logging window); `fast`:
    log-probabilities from hidden states at answer positions (studio.train.trainer.answer_only)."""
    import torch

    batch = dict(batch)
    reference = batch.pop("reference", None)
    tags = batch.pop("kto_tags", None)
    size = batch["input_ids"].shape[0] // 2
    if cfg.stage == "kto":
        first = {k: v[:size] for k, v in batch.items()}
        logps, counts = sequence_logps(model, first, fast)
        with torch.no_grad():
            kl_logps, _ = sequence_logps(model, {k: v[size:] for k, v in batch.items()}, fast)
        ref, ref_kl = reference[:size].to(logps), reference[size:].to(logps)
        loss, rewards, kl = kto_loss(cfg, logps, counts, ref, kl_logps, ref_kl, tags)
        good, bad = rewards[tags], rewards[~tags]
        right = torch.where(tags, rewards > 0, rewards < 0).float()
        metrics = {"rewards/chosen": good, "rewards/rejected": bad, "rewards/accuracies": right, "kl": kl,
                   "logps/chosen": logps.detach()[tags], "logps/rejected": logps.detach()[~tags]}
        if len(good) and len(bad):
            metrics["rewards/margins"] = good.mean() - bad.mean()
        return loss, metrics
    sums, counts = sequence_logps(model, batch, fast)
    averages = sums / counts.clamp(min=1)
    values = averages if cfg.pref_loss in AVERAGED else sums
    chosen, rejected = values[:size], values[size:]
    ref_c = ref_r = None
    if reference is not None:
        ref = reference.to(sums) / (counts.clamp(min=1) if cfg.pref_loss in AVERAGED else 1)
        ref_c, ref_r = ref[:size], ref[size:]
    losses, good, bad = pair_losses(cfg, chosen, rejected, ref_c, ref_r, averages[:size])
    metrics = {"rewards/chosen": good, "rewards/rejected": bad, "rewards/accuracies": (good > bad).float(),
               "rewards/margins": good - bad, "logps/chosen": chosen.detach(), "logps/rejected": rejected.detach()}
    return losses.mean(), metrics


def trainer_class() -> Any:
    """StudioTrainer (seeded length groups, FLOPs) with the preference loss and reward metrics logged beside it."""
    import torch

    from studio.train.trainer import trainer_class as base

    class PreferenceTrainer(base()):
        cfg: RunConfig
        loss_is_scaled_for_ga = False  # a mean per micro-batch: the Trainer divides it by the accumulation steps

        def __init__(self, *args: Any, **kwargs: Any) -> None:
            super().__init__(*args, **kwargs)
            self.stored: dict[str, dict[str, list[float]]] = {"train": {}, "eval": {}}

        def _store(self, kind: str, metrics: dict[str, Any]) -> None:
            for key, value in metrics.items():
                if value.numel():
                    self.stored[kind].setdefault(key, []).append(float(value.float().mean()))

        def compute_loss(self, model: Any, inputs: dict[str, Any], return_outputs: bool = False,
                         num_items_in_batch: Any = None) -> Any:
            lengths = inputs.pop(SEQ_LENGTHS, None)
            if lengths is not None and model.training and self.counter is not None:
                size = len(lengths) // 2
                answers = (inputs["labels"][:, 1:] != IGNORE).sum(dim=1).tolist()
                if self.cfg.stage == "kto":  # the KL rows run forward only, without gradient: a third of the work
                    self.flops += self.counter.batch(lengths[:size].tolist(), sum(answers[:size]), self.fast)
                    self.flops += self.counter.batch(lengths[size:].tolist(), sum(answers[size:]), self.fast) / 3
                else:
                    self.flops += self.counter.batch(lengths.tolist(), sum(answers), answer_only=self.fast)
            loss, metrics = preference_metrics(self.cfg, model, inputs, self.fast)
            self._store("train" if model.training else "eval", metrics)
            return (loss, {"loss": loss}) if return_outputs else loss

        def prediction_step(self, model: Any, inputs: dict[str, Any], prediction_loss_only: bool,
                            ignore_keys: Any = None) -> tuple[Any, None, None]:
            inputs = self._prepare_inputs(inputs)
            with torch.no_grad():
                loss = self.compute_loss(model, inputs)
            return loss.detach(), None, None

        def log(self, logs: dict[str, float], *args: Any, **kwargs: Any) -> None:
            kind = "eval" if "eval_loss" in logs else "train"
            prefix = "eval_" if kind == "eval" else ""
            for key, values in self.stored[kind].items():
                logs[prefix + key] = round(sum(values) / len(values), 6)
            self.stored[kind] = {}
            super().log(logs, *args, **kwargs)

    return PreferenceTrainer


def worst_pairs(cfg: RunConfig, model: Any, tokenizer: Any, rows: Any, collate: PreferenceCollator, count: int,
                ) -> tuple[list[dict[str, Any]], int]:
    """The pairs (dpo) or answers (kto) the trained model still gets wrong, most wrong first (at most `count`), and
    how many there are: a reward margin below 0 (the rejected answer still preferred), or a good answer with a
    negative reward / a bad one positive."""
    import torch

    device = next(model.parameters()).device
    scored: list[tuple[float, int]] = []
    was_training = model.training
    model.eval()
    with torch.no_grad():
        for start in range(0, len(rows), cfg.per_device_train_batch_size):
            picked = [rows[i] for i in range(start, min(start + cfg.per_device_train_batch_size, len(rows)))]
            batch = collate(picked)
            batch.pop(SEQ_LENGTHS)
            _, metrics = preference_metrics(cfg, model, {k: v.to(device) for k, v in batch.items()})
            if cfg.stage == "dpo":
                values = (metrics["rewards/chosen"] - metrics["rewards/rejected"]).tolist()
            else:
                tags = batch["kto_tags"]
                rewards = torch.zeros(len(picked))
                rewards[tags] = metrics["rewards/chosen"].cpu().float()
                rewards[~tags] = metrics["rewards/rejected"].cpu().float()
                values = torch.where(tags, rewards, -rewards).tolist()
            scored += [(v, start + i) for i, v in enumerate(values)]
    model.train(was_training)
    wrong = sorted(s for s in scored if s[0] < 0)
    first, second = SIDES[cfg.stage]
    out = []
    for place, (margin, i) in enumerate(wrong[:count], 1):
        row = rows[i]
        prompt = [t for t, lab in zip(row[first + "input_ids"], row[first + "labels"], strict=True) if lab == IGNORE]
        answer = [t for t, lab in zip(row[first + "input_ids"], row[first + "labels"], strict=True) if lab != IGNORE]
        other = [t for t, lab in zip(row[second + "input_ids"], row[second + "labels"], strict=True) if lab != IGNORE]
        out.append({"rank": place, "source": row.get("source", ""), "margin": round(margin, 4), "ranked_of": len(rows),
                    "stage": cfg.stage, "good": bool(row.get("kto_tag", True)), "text": tokenizer.decode(prompt),
                    "answer": tokenizer.decode(answer), "rejected": tokenizer.decode(other) if cfg.stage == "dpo"
                    else ""})
    return out, len(wrong)
