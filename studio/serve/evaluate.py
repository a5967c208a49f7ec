"""The evaluation worker: `python -m studio.serve.evaluate RUN_DIR [--resume predictions]`.

For each weight set of the job (the base model, a run's final weights, its checkpoints) it generates an answer
for every row, batched: rows sorted by prompt length, left-padded, finished rows stopped by generate itself. The
same batch's reference answers are scored under the weights (loss, perplexity). Every answer is appended to
predictions.jsonl with its per-row scores as soon as its batch ends, so an aborted or killed job resumes where it
stopped. At the end scores.json holds the averages and LLaMA-Factory's generated_predictions.jsonl is written.
"""

from __future__ import annotations

import json
import math
import time
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from studio.core import config as cfgmod
from studio.core.config import RunConfig
from studio.core.errors import StudioError
from studio.core.rundir import (
    CONFIG_FILE,
    PREDICTIONS_FILE,
    SCORES_FILE,
    read_status,
    update_status,
    write_json_atomic,
)
from studio.core.workspace import Workspace
from studio.encode.encoder import IGNORE, Options
from studio.model.load import load_tokenizer, model_path, say
from studio.runs import evalplan
from studio.serve import scores as sc
from studio.serve import sqlmatch
from studio.serve.eval_rows import Row, Said, load_rows, offered, row_scores
from studio.serve.targets import ChatTarget, model_target, run_target

LF_PREDICTIONS = "generated_predictions.jsonl"


# models -----------------------------------------------------------------------------------------------------

@dataclass
class Weights:
    name: str
    target: ChatTarget | None  # None: the base model alone
    step: int | None = None  # a checkpoint's training step
    same_as: str | None = None  # byte-identical weights evaluated under this name (final = the last checkpoint)


def _fingerprint(target: ChatTarget | None) -> str | None:
    """An adapter's weights file hashed (small); None for anything else, which is never taken as a copy."""
    import hashlib

    if target is None or target.adapter is None:
        return None
    try:
        return hashlib.sha256((target.adapter / "adapter_model.safetensors").read_bytes()).hexdigest()
    except OSError:
        return None


def weights(cfg: RunConfig, ws: Workspace) -> list[Weights]:
    out = []
    for name in evalplan.targets(cfg):
        if name == evalplan.BASE:
            out.append(Weights(name, None))
        elif name == evalplan.TUNED:
            out.append(Weights(name, model_target(ws, cfg.model_name_or_path, cfg.adapter_name_or_path,
                                                  cfg.template)))
        else:
            step = int(name.split("-")[1]) if name.startswith("checkpoint-") else read_status(
                ws.runs_dir / cfg.eval_run).get("step")  # the final weights: the run's last step
            out.append(Weights(name, run_target(ws, cfg.eval_run, name), step))
    seen: dict[str, str] = {}
    for w in out:
        if (key := _fingerprint(w.target)) is not None:
            w.same_as = seen.get(key)
            seen.setdefault(key, w.name)
    return out


class Models:
    """One base model in memory; LoRA weights are added to it as named adapters and switched, a full model is
    loaded in its place."""

    def __init__(self, base: str, trust: bool) -> None:
        from studio.serve.chat import _load_model

        self.load, self.base_path, self.trust = _load_model, base, trust
        self.base = _load_model(base, trust)
        self.peft: Any = None
        self.current: Any = self.base

    def use(self, w: Weights) -> Any:
        import gc

        if w.target is None:
            self.current = self.base
        elif w.target.adapter is not None:
            from peft import PeftModel

            if self.peft is None:
                self.peft = PeftModel.from_pretrained(self.base, str(w.target.adapter), adapter_name=w.name)
            else:
                self.peft.load_adapter(str(w.target.adapter), adapter_name=w.name)
            self.peft.set_adapter(w.name)
            self.current = self.peft.eval()
        else:  # a full or freeze run's model: the base is not needed any more (those come last)
            self.base = self.peft = self.current = None
            gc.collect()
            self.current = self.load(w.target.base, self.trust)
        return self.current


# generation and loss ----------------------------------------------------------------------------------------

def _stop_ids(tokenizer: Any, template: Any) -> list[int]:
    from studio.templates.registry import eos_id

    stops = {eos_id(template, tokenizer), tokenizer.eos_token_id,
             *map(tokenizer.convert_tokens_to_ids, template.stop_words)}
    return sorted(i for i in stops if isinstance(i, int) and i != tokenizer.unk_token_id)


def generate(model: Any, tokenizer: Any, batch: list[Row], cfg: RunConfig, stops: list[int], images: Any
             ) -> list[tuple[str, int]]:
    """(answer, tokens generated) per row of a batch, greedy unless a temperature is set."""
    import torch

    pad = tokenizer.pad_token_id
    width = max(len(r.prompt_ids) for r in batch)
    ids = torch.tensor([[pad] * (width - len(r.prompt_ids)) + r.prompt_ids for r in batch])
    mask = torch.tensor([[0] * (width - len(r.prompt_ids)) + [1] * len(r.prompt_ids) for r in batch])
    kwargs: dict[str, Any] = {"input_ids": ids, "attention_mask": mask, "max_new_tokens": cfg.max_new_tokens,
                              "eos_token_id": stops or None, "pad_token_id": pad, "do_sample": cfg.temperature > 0}
    if cfg.temperature > 0:
        kwargs |= {"temperature": cfg.temperature, "top_p": cfg.top_p, "top_k": 0}
    else:
        kwargs |= {"temperature": None, "top_p": None, "top_k": None}
    if images is not None:
        kwargs |= images([{"images": list(r.images), "image_grid_thw": None} for r in batch], ids)
    kwargs = {k: v.to(model.device) if hasattr(v, "to") else v for k, v in kwargs.items()}
    with torch.inference_mode():
        out = model.generate(**kwargs)[:, width:].tolist()
    results = []
    for tokens in out:
        end = next((i for i, t in enumerate(tokens) if t in stops), len(tokens))
        results.append((tokenizer.decode(tokens[:end], skip_special_tokens=True), min(end + 1, len(tokens))))
    return results


def losses(model: Any, batch: list[Row], pad: int, images: Any) -> list[tuple[float, int] | None]:
    """Per row: the summed negative log-likelihood of its reference answer's tokens and their count."""
    import torch

    from studio.encode.encoder import pad_batch

    scored = [r for r in batch if r.full is not None]
    if not scored:
        return [None] * len(batch)
    rows = [{"input_ids": r.full.input_ids, "labels": r.full.labels, "images": list(r.full.images),
             "image_grid_thw": [list(g) for g in r.full.grids]} for r in scored]
    padded = {k: torch.tensor(v) for k, v in pad_batch(rows, pad).items()}
    labels = padded.pop("labels")
    if images is not None:
        padded |= images(rows, padded["input_ids"])
    # logits only from the position before the first answer token on: a real vocabulary is 150k wide, and the
    # prompt's positions would be most of a batch's logits
    first = int((labels != IGNORE).int().argmax(1).min())
    keep = labels.shape[1] - first + 1
    with torch.inference_mode():
        inputs = {k: v.to(model.device) for k, v in padded.items()}
        try:
            logits = model(**inputs, logits_to_keep=keep).logits.float()
        except TypeError:  # a model without logits_to_keep: all positions, cut here
            logits = model(**inputs).logits[:, -keep:].float()
    targets = labels[:, labels.shape[1] - keep + 1:].to(logits.device)
    nll = torch.nn.functional.cross_entropy(logits[:, :-1].transpose(1, 2), targets, ignore_index=IGNORE,
                                            reduction="none")
    keep = targets != IGNORE
    sums, counts = (nll * keep).sum(1).tolist(), keep.sum(1).tolist()
    by_row = {id(r): (s, int(c)) for r, s, c in zip(scored, sums, counts, strict=True)}
    return [by_row.get(id(r)) for r in batch]


# the job ----------------------------------------------------------------------------------------------------

def read_predictions(run_dir: Path) -> list[dict[str, Any]]:
    """Complete lines of predictions.jsonl (a line torn by a kill is written again on resume)."""
    try:
        text = (run_dir / PREDICTIONS_FILE).read_text(encoding="utf-8")
    except FileNotFoundError:
        return []
    out = []
    for line in text.splitlines():
        try:
            out.append(json.loads(line))
        except json.JSONDecodeError:
            continue
    return out


def _rewrite_complete(run_dir: Path, done: list[dict[str, Any]]) -> None:
    """Before appending again: the file holds exactly the complete lines (no torn tail to glue onto)."""
    path = run_dir / PREDICTIONS_FILE
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text("".join(json.dumps(d, ensure_ascii=False) + "\n" for d in done), encoding="utf-8")
    tmp.replace(path)


def evaluate(run_dir: Path, resume: str | None) -> str:
    from studio.core import hf
    from studio.encode.cache import media_for
    from studio.model.info import check_remote_code
    from studio.serve.chat import _image_step, quiet
    from studio.templates.registry import make_template
    from studio.train.checks import check_environment

    quiet()
    ws = Workspace(run_dir.resolve().parent.parent)
    cfg = cfgmod.load(run_dir / CONFIG_FILE)
    errors = [i for i in check_environment(cfg, ws) + evalplan.check(ws, cfg) if i.level == "error"]
    if errors:
        raise StudioError("run.invalid", count=len(errors), first=errors[0].text())
    hf.ready(with_peft=True)
    import torch

    torch.manual_seed(cfg.seed)
    plan = weights(cfg, ws)
    base = model_path(cfg, ws)
    trust = check_remote_code(base, cfg.trust_remote_code)
    tokenizer = load_tokenizer(cfg, ws)  # as training loaded it: the same ids, so the same held-out rows
    template = make_template(cfg.template, tokenizer)
    media = media_for(ws.registry_file, Path(base), Options.of(cfg))
    rows, what = load_rows(cfg, ws, tokenizer, template, media)
    if not rows:
        raise StudioError("eval.no_rows", dataset=cfg.dataset)
    offer = offered(cfg, ws, rows)
    say(f"evaluating {', '.join(w.name for w in plan)} on: {what.text()}; batch "
        f"{cfg.per_device_eval_batch_size}, max_new_tokens {cfg.max_new_tokens}, "
        f"{'greedy' if cfg.temperature == 0 else f'temperature {cfg.temperature}'}")
    for key, o in offer.items():
        say(f"{key} scores: {'yes' if o['on'] else 'no'} ({o['why']})")
    done = read_predictions(run_dir) if resume else []
    _rewrite_complete(run_dir, done)
    seen = {(d["target"], d["index"]) for d in done}
    if resume:
        say(f"resuming: {len(seen)} of {len(rows) * len(plan)} answers already written")
    total, stops = len(rows) * len(plan), _stop_ids(tokenizer, template)
    started, made = time.perf_counter(), 0
    update_status(run_dir, step=len(seen), max_steps=total, eta_s=None, eval_targets=[w.name for w in plan],
                  eval_rows=len(rows))
    models = Models(base, trust)
    speed: dict[str, dict[str, float]] = {}
    for w in plan:
        pending = sorted((r for r in rows if (w.name, r.index) not in seen), key=lambda r: len(r.prompt_ids))
        if not pending:
            continue
        if w.same_as:  # the same bytes give the same answers: written under this name too, not generated again
            copies = [d | {"target": w.name} for d in read_predictions(run_dir) if d["target"] == w.same_as
                      and (w.name, d["index"]) not in seen]
            with open(run_dir / PREDICTIONS_FILE, "a", encoding="utf-8") as fh:
                fh.writelines(json.dumps(d, ensure_ascii=False) + "\n" for d in copies)
            seen.update((w.name, d["index"]) for d in copies)
            say(f"{w.name}: the same weights as {w.same_as}; its {len(copies)} answers are {w.same_as}'s")
            continue
        model = models.use(w)
        images = _image_step(w.target or ChatTarget(base, None, cfg.template, base,
                                                    image_pixels=(cfg.image_max_pixels, cfg.image_min_pixels)),
                             tokenizer)
        say(f"{w.name}: {len(pending)} rows")
        t0, tokens, size = time.perf_counter(), 0, cfg.per_device_eval_batch_size
        # the references' loss in batches of similar full length (little padding), before any answer is made
        by_length = sorted((r for r in pending if r.full is not None), key=lambda r: len(r.full.input_ids))
        nll: dict[int, tuple[float, int] | None] = {}
        for start in range(0, len(by_length), size):
            batch = by_length[start:start + size]
            nll |= {r.index: v for r, v in zip(batch, losses(model, batch, tokenizer.pad_token_id, images),
                                                strict=True)}
        t_loss = time.perf_counter() - t0
        for start in range(0, len(pending), size):
            batch = pending[start:start + size]
            answers = generate(model, tokenizer, batch, cfg, stops, images)
            with open(run_dir / PREDICTIONS_FILE, "a", encoding="utf-8") as fh:
                for row, (text, n) in zip(batch, answers, strict=True):
                    loss = nll.get(row.index)
                    asked = row.prompt.turns[-1].content if row.prompt.turns else ""
                    line = {"target": w.name, "index": row.index, "source": row.source, "prompt": asked,
                            "label": row.answer, "predict": text, "tokens": n,
                            "scores": row_scores(cfg, row, text, offer)}
                    if loss is not None:
                        line |= {"nll": loss[0], "loss_tokens": loss[1]}
                    fh.write(json.dumps(line, ensure_ascii=False) + "\n")
                    tokens += n
            made += len(batch)
            seen.update((w.name, r.index) for r in batch)
            elapsed = time.perf_counter() - started
            update_status(run_dir, step=len(seen), max_steps=total,
                          eta_s=round(elapsed / made * (total - len(seen)), 1), eval_target=w.name)
        spent = time.perf_counter() - t0
        making = spent - t_loss
        speed[w.name] = {"seconds": round(spent, 2), "predictions_per_s": round(len(pending) / spent, 3),
                         "tokens_per_s": round(tokens / spent, 1), "loss_seconds": round(t_loss, 2),
                         "generate_predictions_per_s": round(len(pending) / making, 3)}
        say(f"{w.name}: {len(pending)} answers in {spent:.1f} s ({len(pending) / spent:.2f} rows/s, "
            f"{tokens / spent:.0f} generated tokens/s; of which the references' loss {t_loss:.1f} s)")
    write_results(run_dir, cfg, rows, plan, offer, what, speed, tokenizer)
    return "finished"


def summarise(lines: list[dict[str, Any]], offer: dict[str, dict[str, Any]]) -> dict[str, Any]:
    """One weight set's averages over its rows."""
    scored = [d["scores"] for d in lines if d.get("scores")]
    out: dict[str, Any] = {"rows": len(lines), "answer_chars": sc.mean(len(d["predict"]) for d in lines),
                           "answer_tokens": sc.mean(d["tokens"] for d in lines)}
    if offer["text"]["on"]:
        out |= sc.average(scored)
    count = sum(d.get("loss_tokens", 0) for d in lines)
    if count:
        out["eval_loss"] = sum(d["nll"] for d in lines if "nll" in d) / count
        out["perplexity"] = math.exp(min(out["eval_loss"], 700.0))
    if offer["json"]["on"]:
        out |= sc.average([s for s in scored if "json_valid" in s], ("json_valid", "json_keys"))
    if offer["sql"]["on"]:
        kinds = [s["sql"] for s in scored if "sql" in s]
        missing = Counter(s["sql_detail"] for s in scored if s.get("sql") == "missing_db")
        out["sql"] = sqlmatch.summary(kinds, missing)
        out["execution_match"] = out["sql"]["execution_match"]
    return out


def write_results(run_dir: Path, cfg: RunConfig, rows: list[Row], plan: list[Weights],
                  offer: dict[str, dict[str, Any]], what: Said, speed: dict[str, dict[str, float]],
                  tokenizer: Any) -> None:
    lines = read_predictions(run_dir)
    by_target: dict[str, dict[int, dict[str, Any]]] = {}
    for d in lines:
        by_target.setdefault(d["target"], {})[d["index"]] = d  # a row written twice (resume) counts once
    results = {w.name: summarise(list(by_target.get(w.name, {}).values()), offer) for w in plan}
    for name, s in speed.items():
        results[name]["speed"] = s
    write_json_atomic(run_dir / SCORES_FILE, {
        "rows": len(rows), **what.stored("about"), "dataset": cfg.dataset, "held_out": not cfg.eval_dataset,
        "targets": [w.name for w in plan], "steps": {w.name: w.step for w in plan if w.step is not None},
        "offered": offer, "scores": results, "prompts_cut": sum(r.cut for r in rows),
        "settings": {k: getattr(cfg, k) for k in ("max_new_tokens", "temperature", "top_p",
                                                  "per_device_eval_batch_size", "cutoff_len", "template")}})
    main = evalplan.main_target([w.name for w in plan])
    for w in plan:  # LLaMA-Factory's file for the tuned weights, one more per other weight set
        name = LF_PREDICTIONS if w.name == main else f"generated_predictions-{w.name}.jsonl"
        done = by_target.get(w.name, {})
        with open(run_dir / name, "w", encoding="utf-8") as fh:
            for row in rows:
                if row.index in done:
                    fh.write(json.dumps({"prompt": tokenizer.decode(row.prompt_ids, skip_special_tokens=False),
                                         "predict": done[row.index]["predict"], "label": row.reference or ""},
                                        ensure_ascii=False) + "\n")
    s = results[main]
    say(f"scores of {main}: " + ", ".join(f"{k} {s[k]:.2f}" for k in ("bleu-4", "rouge-l", "exact_match",
                                                                      "eval_loss") if k in s))


def main() -> int:
    from studio.train.worker import cli

    return cli(recipe=evaluate, prog="python -m studio.serve.evaluate")


if __name__ == "__main__":
    raise SystemExit(main())
