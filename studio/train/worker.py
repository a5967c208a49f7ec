"""The training worker: `python -m studio.train RUN_DIR [--resume CHECKPOINT]` reads config.yaml, writes the run files."""

from __future__ import annotations

import argparse
import os
import signal
import subprocess
import sys
import time
import traceback
import warnings
from collections.abc import Callable
from pathlib import Path

from studio.core import config as cfgmod
from studio.core.errors import StudioError
from studio.core.machine import allocator_in_use
from studio.core.messages import render
from studio.core.rundir import CONFIG_FILE, read_metrics, read_status, update_status
from studio.core.workspace import REPO_ROOT, Workspace
from studio.model.load import fetch_errors, is_main_process, load_model, load_tokenizer, save_output, say
from studio.train import preference as pref
from studio.train.checks import check_environment
from studio.train.fused import cpu_attention, fuse_mlps
from studio.train.phases import Phases
from studio.train.trainer import AbortFlag, build_dataset, build_trainer, image_inputs

FLAG = AbortFlag()
PHASES = Phases()
ALLOCATOR_NOTE = {"tcmalloc": "memory allocator: tcmalloc",
                  "glibc": "memory allocator: glibc malloc (installing libtcmalloc-minimal4 lowers the training peak "
                           "by about a third on CPU)"}


class Aborted(BaseException):
    """SIGTERM outside the training loop (loading, encoding): stop at once and record 'aborted'."""


def _on_sigterm(signum: int, frame: object) -> None:
    if FLAG.in_loop:
        FLAG.requested = True  # the loop saves a checkpoint at the end of this step, then stops
    else:
        raise Aborted()


def disk_full(exc: BaseException) -> str | None:
    """The path a write failed on when the disk is full (OSError ENOSPC, or safetensors' wrapped IoError)."""
    seen: BaseException | None = exc
    while seen is not None:
        if isinstance(seen, OSError) and seen.errno == 28:
            return str(seen.filename or "a checkpoint")
        if "No space left on device" in str(seen) or "StorageFull" in str(seen):
            return "a checkpoint"
        seen = seen.__cause__ or seen.__context__
    return None


def run(run_dir: Path, resume: str | None) -> str:
    """The recipe. Returns the final state: finished, or aborted when SIGTERM stopped the loop."""
    ws = Workspace(run_dir.resolve().parent.parent)  # runs live in WORKSPACE/runs/<id>
    cfg = cfgmod.load(run_dir / CONFIG_FILE)
    errors = [i for i in check_environment(cfg, ws) if i.level == "error"]
    if errors:
        raise StudioError("run.invalid", count=len(errors), first=errors[0].text())
    import torch

    say(ALLOCATOR_NOTE.get(allocator_in_use(), "memory allocator: the system's"))
    _phase(run_dir, "imports")
    torch.manual_seed(cfg.seed)
    with fetch_errors(cfg, ws):  # a hub id that cannot be downloaded ends as one sentence, not an OSError
        tokenizer = load_tokenizer(cfg, ws)
        model = load_model(cfg, ws)
    mlps, shared = fuse_mlps(model), cpu_attention(torch.cuda.is_available())
    say(f"activations: {mlps} MLPs recompute silu in backward" + ("; SDPA shares key/value heads" if shared else ""))
    _phase(run_dir, "model")
    preference = cfg.stage in cfgmod.PREFERENCE_STAGES
    images = None if preference else image_inputs(cfg, ws, tokenizer)
    splits = (pref.build_dataset if preference else build_dataset)(cfg, ws, tokenizer)
    _phase(run_dir, "dataset")
    if preference:
        for module in model.modules():  # as LLaMA-Factory: no dropout, so policy and reference see the same net
            if isinstance(module, torch.nn.Dropout):
                module.p = 0.0

    offset = flops = 0.0
    if resume:
        rows, _ = read_metrics(run_dir)
        offset = float(rows[-1].get("elapsed_s", 0.0)) if rows else 0.0
        flops = float(next((r["flops"] for r in reversed(rows) if "flops" in r), 0.0))
        say(f"resuming from {resume}")
    extra = {"collate": pref.PreferenceCollator(tokenizer.pad_token_id, cfg.stage),
             "trainer_cls": pref.trainer_class()} if preference else {}
    trainer = build_trainer(cfg, run_dir, model, tokenizer, splits, FLAG, elapsed_offset=offset, images=images,
                            phases=PHASES, flops_offset=flops, **extra)
    if preference:  # with the Trainer's model on its device and in its precision, before the first step
        pref.attach_reference(cfg, ws, run_dir, trainer, splits, extra["collate"])
        _phase(run_dir, "reference")
    say(f"training: {trainer.args.max_steps if trainer.args.max_steps > 0 else 'all'} steps")
    FLAG.in_loop = True
    try:
        trainer.train(resume_from_checkpoint=str(run_dir / resume) if resume else None)
    finally:
        FLAG.in_loop = False
    PHASES.release()
    _phase(run_dir, "training")
    if "evaluation" in PHASES.rows:
        _phase(run_dir, "evaluation", close=False)
    if FLAG.stopped:
        say(f"aborted by SIGTERM: checkpoint saved at step {trainer.state.global_step}")
        return "aborted"
    if trainer.state.best_model_checkpoint and cfg.early_stopping_patience:
        say(f"best eval loss {trainer.state.best_metric:.4f} at {Path(trainer.state.best_model_checkpoint).name}")
    if trainer.is_world_process_zero():
        target = save_output(cfg, trainer.model, tokenizer, run_dir, images.processor if images else None)
        say(f"{target.name} saved to {target}")
        _phase(run_dir, "saving")
        if cfg.worst_rows and cfg.distributed not in ("deepspeed_zero3", "fsdp"):  # sharded weights: no 1-GPU pass
            if preference:
                _rank_pairs(cfg, run_dir, trainer.model, tokenizer, trainer.train_dataset)  # with its reference
            else:
                _rank_rows(cfg, run_dir, trainer.model, tokenizer, splits.rows, images)
            _phase(run_dir, "worst rows")
    return "finished"


def _phase(run_dir: Path, name: str, close: bool = True) -> None:
    """Close a phase (or only report one the training loop closed): its memory into the log and status.json."""
    if close:
        PHASES.mark(name)
    say(PHASES.line(name))
    if is_main_process():
        update_status(run_dir, memory=PHASES.table())


def _rank_rows(cfg: cfgmod.RunConfig, run_dir: Path, model: object, tokenizer: object, rows: object,
               images: object = None) -> None:
    from studio.train import worst_rows

    start = time.perf_counter()
    try:
        ranked = worst_rows.rank(model, tokenizer, rows, cfg.worst_rows, cfg.seed, cfg.per_device_train_batch_size,
                                 images)
    except Aborted:
        say("per-row loss ranking skipped (SIGTERM)")
        return
    worst_rows.write(run_dir, ranked)
    if ranked:
        say(f"per-row loss: {ranked[0]['ranked_of']} rows ranked in {time.perf_counter() - start:.1f} s; worst "
            f"{ranked[0]['loss']:.3f} ({ranked[0]['source']})")


def _rank_pairs(cfg: cfgmod.RunConfig, run_dir: Path, model: object, tokenizer: object, rows: object) -> None:
    from studio.train import worst_rows

    start = time.perf_counter()
    try:
        wrong, count = pref.worst_pairs(cfg, model, tokenizer, rows, pref.PreferenceCollator(
            tokenizer.pad_token_id, cfg.stage), cfg.worst_rows)
    except Aborted:
        say("wrongly preferred pairs: skipped (SIGTERM)")
        return
    worst_rows.write(run_dir, wrong)
    update_status(run_dir, still_wrong={"count": count, "of": len(rows)})
    unit = "pairs" if cfg.stage == "dpo" else "answers"
    say(f"still wrong after training: {count} of {len(rows)} {unit}, {len(wrong)} listed "
        f"({time.perf_counter() - start:.1f} s)")


def _next_in_queue(run_dir: Path) -> None:
    """The device is free: ask the on-disk queue to start the next run (a detached process outlives us)."""
    workspace = str(run_dir.resolve().parent.parent)
    subprocess.Popen([sys.executable, "-m", "studio.runs.queue", workspace], stdin=subprocess.DEVNULL,
                     stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True,
                     cwd=str(REPO_ROOT))


def main(run_dir: Path, resume: str | None = None, recipe: Callable[[Path, str | None], str] | None = None) -> int:
    """Run a recipe (training by default; the eval job passes its own) with the run folder's bookkeeping: status,
    SIGTERM, one-sentence errors, peak memory, and the queue's next run when it ends."""
    # peft asks transformers a renamed question on every step; the notice says nothing to the user
    warnings.filterwarnings("ignore", message=".*is_gradient_checkpointing.*", category=FutureWarning)
    signal.signal(signal.SIGTERM, _on_sigterm)
    from transformers.utils import logging as hf_logging

    hf_logging.disable_progress_bar()  # train.log is read by people: no carriage-return bars
    rank0 = is_main_process()
    report = update_status if rank0 else (lambda *a, **k: None)
    now = time.time()
    first = read_status(run_dir).get("first_started_at") or now  # a resume keeps the run's first start
    report(run_dir, state="running", worker_pid=os.getpid(), started_at=now, first_started_at=first,
           resumed_from=resume)
    code, final = 0, {}
    try:
        state = (recipe or run)(run_dir, resume)
        code, final = (143, {"error": render("run.aborted")}) if state == "aborted" else (0, {})
        final["state"] = state
    except Aborted:
        say("aborted by SIGTERM")
        code, final = 143, {"state": "aborted", "error": render("run.aborted")}
    except StudioError as err:
        say(f"error: {err}")
        code, final = 2, {"state": "failed", "error": str(err), "error_key": err.key,
                          "error_fields": {k: str(v) for k, v in err.fields.items()}}
    except Exception as exc:  # a bug, or the machine (disk, memory): keep the traceback in train.log
        traceback.print_exc()
        code = 1
        if (path := disk_full(exc)) is not None:
            err = StudioError("run.disk_full", path=path)
            final = {"state": "failed", "error": str(err), "error_key": err.key, "error_fields": {"path": path}}
        else:
            final = {"state": "failed", "error": f"{type(exc).__name__}: {exc}".splitlines()[0]}
    peak = PHASES.peak_mb()
    ended = time.time()
    if rank0:  # the training time of every segment (first start, resumes) adds up
        final["train_seconds"] = float(read_status(run_dir).get("train_seconds") or 0) + (ended - now)
    report(run_dir, finished_at=ended, exit_code=code, peak_rss_mb=round(peak), **final)
    if rank0:
        _next_in_queue(run_dir)
    return code


def cli(argv: list[str] | None = None, recipe: Callable[[Path, str | None], str] | None = None,
        prog: str = "python -m studio.train") -> int:
    parser = argparse.ArgumentParser(prog=prog)
    parser.add_argument("run_dir", type=Path)
    parser.add_argument("--resume", default=None, help="a checkpoint folder name inside RUN_DIR")
    args = parser.parse_args(argv)
    return main(args.run_dir, args.resume, recipe)
