"""Qwen2-VL training throughput beside LLaMA-Factory, image preprocessing, and chat's first token with a picture.

    python bench/vision_throughput.py [--steps 120] [--rounds 2] [--lf-cli /tmp/lfvenv/bin/llamafactory-cli]
                                      [--model models/demo-vl] [--warmup-steps 400] [--pictures 10] [--threads 1]

Everything runs on this machine's CPU in one run, in a temporary workspace:
1. Training. The demo VLM (`create_vision_model`: tiny Qwen2-VL, 0.82M parameters) and the demo picture set
   (`demo_colors`, 240 rows, one 84x84 picture each) are trained by `python -m studio train CFG --preset
   demo-vision` (LoRA r16 on the language model, vision tower and projector frozen, lr 3e-3, batch 8, cutoff 128)
   with max_steps fixed, val_size 0, worst_rows 0, logging_steps 10. Its figures come from metrics.jsonl (non-pad
   tokens the Trainer counted, over the loop from its start to the last log line; images/s = steps x 8 / the same
   seconds, one picture per row) and status.json (the worker's own peak RSS).
   LLaMA-Factory 0.9.5 (`llamafactory-cli train LF.yaml`, its own venv, transformers 5.6 + torchvision) trains the
   same model folder on the same demo_colors.json (a dataset_info.json of its own naming that file, media_dir = our
   data folder) with the same hyperparameters (template qwen2_vl, lora_target all, freeze_vision_tower and
   freeze_multi_modal_projector, image_max_pixels / image_min_pixels left at its defaults, use_cpu, no eval,
   save_strategy "no"). Its figures: train_samples_per_second from its train_results.json (the wall time of its
   training loop) x the mean non-pad tokens per row of the file (`python -m studio data encode`; with max_steps x 8
   a multiple of 240 every row is seen equally often, so the count is exact), and the peak RSS of its process
   tree (getrusage(RUSAGE_CHILDREN) in a small wrapper process; the RSS of a bare `import torch, transformers,
   peft` in each venv is printed beside it: LLaMA-Factory's venv has a CUDA build of torch). LLaMA-Factory turns
   gradient checkpointing on by default (we do not for LoRA), so it runs twice: its default recipe (the baseline,
   "x LF") and with `disable_gradient_checkpointing: true` (the same computation as ours). Both sides see the same
   rows in the same order: the loss at every log step agrees (printed).
   LLaMA-Factory needed no fix: it loads the model folder our transformers 5.23 saved (no key renaming, no copy),
   and no extra flag beyond the config below; nothing of LLaMA-Factory is patched.
   Configurations alternate over --rounds (order rotated); the best round counts (peak RSS: the highest).
2. Image preprocessing, in this process: our collator's path (`load_image` at LLaMA-Factory's pre-size, then
   `pixel_inputs` with the model's processor from `load_image_processor`, batches of 8) against the processor alone
   on the same images already decoded and resized in memory (the floor), on 200 demo pictures and on 50 generated
   1024x768 photo-like pictures (gradients + noise + shapes) saved as JPEG and as PNG. Best of 2 passes.
3. Chat: `chat.load(run_target(ws, RUN))` on an "ours" run, then greedy replies (max_new_tokens 12) to "What colour
   is the shape?" with one picture each; the median `ReplyStats.first_token_s` over --pictures pictures (after one
   warm-up reply), beside a bare `model.generate(max_new_tokens=1)` on the same ids and image tensors (baseline: the
   least a first token can cost) and the wall time of a whole `chat.reply` with max_new_tokens=1 (what
   first_token_s leaves out: prompt encoding and the picture's decoding and processing happen before its clock).
The machine has 2 cores and other sessions may run at the same time: the load average is printed at the start and
the end; compare ratios from one run. Every process runs torch on one thread (OMP_NUM_THREADS=1, both sides;
--threads 0 keeps torch's default of one per core): measured here with 120 steps, two threads are ~1.1-1.3x faster
on an idle machine, but while one core is busy elsewhere a two-thread run collapses (ours 13,700 -> 140 tok/s,
LLaMA-Factory 12,100 -> 3,400), while one-thread runs keep their speed (10,500 / 11,400). Figures, not pass/fail.
--model copies an existing demo-vl folder instead of building one (the build is ~30 s to 3 min; speed does not
depend on what the weights know).
"""

from __future__ import annotations

import argparse
import json
import os
import random
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from studio.core.rundir import read_metrics  # noqa: E402
from studio.core.workspace import DEMO_VISION_MODEL, Workspace  # noqa: E402
from studio.train.demo_vision import (  # noqa: E402
    COLORS,
    DEMO_VISION_DATASET,
    DEMO_VISION_FILE,
    IMAGE_FOLDER,
    create_vision_model,
    ensure_vision_dataset,
)

BATCH = 8
LF_CLI = "/tmp/lfvenv/bin/llamafactory-cli"
ENV = {**os.environ, "HF_HUB_OFFLINE": "1", "PYTHONPATH": str(ROOT)}
LF_ENV = {**os.environ, "HF_HUB_OFFLINE": "1", "CUDA_VISIBLE_DEVICES": ""}
# The wrapper's only job: the peak RSS of LLaMA-Factory's process tree (the largest process it waited for).
RSS_PROBE = ("import resource, subprocess, sys\n"
             "with open(sys.argv[1], 'w') as log:\n"
             "    rc = subprocess.run(sys.argv[2:], stdout=log, stderr=subprocess.STDOUT).returncode\n"
             "print(rc, resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)\n")
OURS = "ours (studio, demo-vision preset)"
LF_DEFAULT = "LLaMA-Factory 0.9.5, its default (grad. checkpointing)"
LF_NO_GC = "LLaMA-Factory 0.9.5, disable_gradient_checkpointing"


def prepare(ws: Workspace, model_from: str, warmup_steps: int) -> Path:
    """The demo picture set and the demo VLM in the workspace (built, or copied from --model)."""
    ensure_vision_dataset(ws)
    target = ws.root / DEMO_VISION_MODEL
    started = time.perf_counter()
    if model_from:
        shutil.copytree(Path(model_from).expanduser().resolve(), target)
        print(f"model: copied from {model_from}")
    else:
        report = create_vision_model(target, warmup_steps=warmup_steps)
        print(f"model: built in {time.perf_counter() - started:.1f} s ({warmup_steps} warm-up steps, "
              f"loss {report['first_loss']:.2f} -> {report['last_loss']:.2f})")
    return target


def token_counts(ws: Workspace, out: Path) -> tuple[int, int]:
    """(rows, non-pad tokens of the whole file) as our encoder counts them: `python -m studio data encode`."""
    subprocess.run([sys.executable, "-m", "studio", "--workspace", str(ws.root), "data", "encode", "--dataset",
                    DEMO_VISION_DATASET, "--model", DEMO_VISION_MODEL, "--out", str(out)], check=True, cwd=ROOT,
                   env=ENV, capture_output=True)
    rows = [json.loads(line) for line in out.read_text(encoding="utf-8").splitlines() if line.strip()]
    return len(rows), sum(len(r["input_ids"]) for r in rows)


def ours(ws: Workspace, name: str, steps: int) -> dict[str, float]:
    cfg = ws.root / f"{name}.yaml"
    cfg.write_text(f"run_name: {name}\nmax_steps: {steps}\nworst_rows: 0\nval_size: 0\nlogging_steps: 10\n"
                   "save_steps: 100000\n", encoding="utf-8")
    shutil.rmtree(ws.runs_dir / name, ignore_errors=True)
    started = time.perf_counter()
    subprocess.run([sys.executable, "-m", "studio", "--workspace", str(ws.root), "train", str(cfg), "--preset",
                    "demo-vision"], check=True, cwd=ROOT, env=ENV, stdout=subprocess.DEVNULL)
    wall = time.perf_counter() - started
    rss = float(json.loads((ws.runs_dir / name / "status.json").read_text())["peak_rss_mb"])
    rows = [m for m in read_metrics(ws.runs_dir / name)[0] if "loss" in m]
    last = rows[-1]  # elapsed_s counts from the Trainer's on_train_begin: the whole loop, as LF's train_runtime
    return {"tok_s": last["tokens_seen"] / last["elapsed_s"], "img_s": last["step"] * BATCH / last["elapsed_s"],
            "rss": rss, "wall": wall, "losses": [round(r["loss"], 3) for r in rows]}


def lf_config(ws: Workspace, folder: Path, steps: int, checkpointing: bool) -> Path:
    """LLaMA-Factory's own dataset_info.json (naming our demo_colors.json) and its training YAML."""
    folder.mkdir(parents=True, exist_ok=True)
    info = {DEMO_VISION_DATASET: {
        "file_name": str(ws.data_dir / DEMO_VISION_FILE), "formatting": "sharegpt",
        "columns": {"messages": "messages", "images": "images"},
        "tags": {"role_tag": "role", "content_tag": "content", "user_tag": "user", "assistant_tag": "assistant"}}}
    (folder / "dataset_info.json").write_text(json.dumps(info, indent=1), encoding="utf-8")
    lines = [f"model_name_or_path: {ws.root / DEMO_VISION_MODEL}", "stage: sft", "do_train: true",
             "finetuning_type: lora", "lora_rank: 16", "lora_alpha: 32", "lora_target: all",
             "freeze_vision_tower: true", "freeze_multi_modal_projector: true",
             f"dataset: {DEMO_VISION_DATASET}", f"dataset_dir: {folder}", f"media_dir: {ws.data_dir}",
             "template: qwen2_vl", "cutoff_len: 128", "preprocessing_num_workers: 1", "dataloader_num_workers: 0",
             f"output_dir: {folder / 'out'}", "overwrite_output_dir: true", "logging_steps: 10",
             'save_strategy: "no"', "report_to: none", f"per_device_train_batch_size: {BATCH}",
             "gradient_accumulation_steps: 1", "learning_rate: 3.0e-3", "lr_scheduler_type: linear",
             f"max_steps: {steps}", "use_cpu: true", "bf16: false", "fp16: false"]
    if not checkpointing:
        lines.append("disable_gradient_checkpointing: true")
    path = folder / "lf.yaml"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def llamafactory(cli: str, config: Path, tokens_per_row: float) -> dict[str, float]:
    out = config.parent / "out"
    shutil.rmtree(out, ignore_errors=True)
    log = config.parent / "lf.log"
    started = time.perf_counter()
    done = subprocess.run([sys.executable, "-c", RSS_PROBE, str(log), cli, "train", str(config)],
                          capture_output=True, text=True, cwd=config.parent, env=LF_ENV)
    wall = time.perf_counter() - started
    rc, maxrss = (int(x) for x in done.stdout.split()[-2:])
    results = out / "train_results.json"
    if rc != 0 or not results.exists():
        print(f"LLaMA-Factory failed (exit {rc}); the end of {log}:\n" + log.read_text()[-3000:])
        return {"tok_s": 0.0, "img_s": 0.0, "rss": maxrss / 1024, "wall": wall, "losses": []}
    samples_s = float(json.loads(results.read_text())["train_samples_per_second"])
    logged = [json.loads(line) for line in (out / "trainer_log.jsonl").read_text().splitlines() if line.strip()]
    return {"tok_s": samples_s * tokens_per_row, "img_s": samples_s, "rss": maxrss / 1024, "wall": wall,
            "losses": [round(r["loss"], 3) for r in logged if "loss" in r]}


def import_rss(python: str) -> float:
    """Peak RSS (MiB) of a bare `import torch, transformers, peft` in that Python: what each side pays before work."""
    code = ("import resource, torch, transformers, peft; "
            "print(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)")
    done = subprocess.run([python, "-c", code], capture_output=True, text=True, env=LF_ENV)
    return float(done.stdout.split()[-1]) if done.returncode == 0 and done.stdout.split() else 0.0


def training(ws: Workspace, tmp: Path, args: argparse.Namespace) -> list[str]:
    rows, tokens = token_counts(ws, tmp / "encoded.jsonl")
    per_row = tokens / rows
    exact = (args.steps * BATCH) % rows == 0
    print(f"data: {rows} rows, {tokens} non-pad tokens ({per_row:.2f} per row, 9 of them image pads), batch {BATCH}, "
          f"{args.steps} steps = {args.steps * BATCH / rows:g} epochs"
          + ("" if exact else " (not whole epochs: LLaMA-Factory's token count uses the mean per row)"))
    lf = Path(args.lf_cli)
    configs: dict[str, object] = {OURS: None}
    if lf.exists():
        configs[LF_DEFAULT] = lf_config(ws, tmp / "lf-default", args.steps, checkpointing=True)
        configs[LF_NO_GC] = lf_config(ws, tmp / "lf-nogc", args.steps, checkpointing=False)
    else:
        print(f"{lf} not found: LLaMA-Factory rows skipped")
    results: dict[str, list[dict[str, float]]] = {}
    names = list(configs)
    for round_ in range(args.rounds):
        order = names[round_ % len(names):] + names[:round_ % len(names)]
        for name in order:
            config = configs[name]
            got = ours(ws, f"ours-{round_ + 1}", args.steps) if config is None else \
                llamafactory(str(lf), config, per_row)  # type: ignore[arg-type]
            results.setdefault(name, []).append(got)
            print(f"  round {round_ + 1}: {name:56s} {got['tok_s']:8.0f} tok/s {got['img_s']:7.1f} img/s "
                  f"peak RSS {got['rss']:5.0f} MiB, process wall {got['wall']:5.1f} s", flush=True)
    best = {n: max(r, key=lambda g: g["tok_s"]) for n, r in results.items()}
    rss = {n: max(g["rss"] for g in r) for n, r in results.items()}
    base = best.get(LF_DEFAULT) if best.get(LF_DEFAULT, {}).get("tok_s") else None
    base_rss = rss.get(LF_DEFAULT) if base else None
    print(f"\nTraining, demo VLM on demo_colors, {args.steps} steps of {BATCH} (best of {args.rounds}; "
          "tok/s over the whole training loop):\n")
    print("| configuration | non-pad tok/s | images/s | × LF | peak RSS MiB | × LF |")
    print("|---|---:|---:|---:|---:|---:|")
    for name in [OURS, LF_DEFAULT, LF_NO_GC]:
        if name not in best:
            continue
        g = best[name]
        ratio = f"{g['tok_s'] / base['tok_s']:.2f}" if base else ""
        ratio_rss = f"{rss[name] / base_rss:.2f}" if base_rss else ""
        print(f"| {name} | {g['tok_s']:,.0f} | {g['img_s']:.1f} | {ratio} | {rss[name]:,.0f} | {ratio_rss} |")
    walls = ", ".join(f"{n.split(',')[-1].strip() if n != OURS else 'ours'} "
                      f"{min(g['wall'] for g in results[n]):.1f} s" for n in names)
    print(f"\nprocess wall, start to exit (imports, model load, data, loop, save; best): {walls}")
    if len(names) > 1:
        lf_python = str(Path(args.lf_cli).with_name("python"))
        print(f"peak RSS of `import torch, transformers, peft` alone: ours {import_rss(sys.executable):.0f} MiB, "
              f"LLaMA-Factory's venv {import_rss(lf_python):.0f} MiB (its torch is a CUDA build)")
    for name in names[1:]:
        a, b = best[OURS]["losses"], best[name]["losses"]
        same = "the same" if a == b else "DIFFERENT"
        print(f"loss every 10 steps, ours vs {name.split(',')[-1].strip()}: {same} ({a[0]} ... {a[-1]} vs "
              f"{b[0] if b else '-'} ... {b[-1] if b else '-'})")
    return [f"ours-{i + 1}" for i in range(args.rounds)]


def photo_like(rng: random.Random, width: int = 1024, height: int = 768):  # -> PIL.Image
    """A smooth two-colour gradient with grain and a few shapes: compresses about as a photo does."""
    import numpy as np
    from PIL import Image, ImageDraw

    gen = np.random.default_rng(rng.randrange(1 << 30))
    a, b = gen.uniform(0, 255, 3), gen.uniform(0, 255, 3)
    t = (np.linspace(0, 1, width)[None, :] * 0.6 + np.linspace(0, 1, height)[:, None] * 0.4)[..., None]
    pixels = a * (1 - t) + b * t + gen.normal(0, 12, (height, width, 3))
    img = Image.fromarray(np.clip(pixels, 0, 255).astype("uint8"), "RGB")
    draw = ImageDraw.Draw(img)
    for _ in range(6):
        x, y, r = rng.randrange(width), rng.randrange(height), rng.randrange(20, 200)
        draw.ellipse([x - r, y - r, x + r, y + r], fill=tuple(rng.randrange(256) for _ in range(3)))
    return img


def preprocessing(ws: Workspace, tmp: Path) -> None:
    from studio.model.vision import ImageSpec, load_image, load_image_processor, pixel_inputs

    model_dir = ws.root / DEMO_VISION_MODEL
    processor = load_image_processor(model_dir)
    spec = ImageSpec.of(model_dir, ImageSpec.max_pixels, ImageSpec.min_pixels)
    rng = random.Random(0)
    big = tmp / "photos"
    big.mkdir()
    jpegs, pngs = [], []
    for i in range(50):
        img = photo_like(rng)
        img.save(big / f"{i:02d}.jpg", quality=90)
        img.save(big / f"{i:02d}.png")
        jpegs.append(big / f"{i:02d}.jpg")
        pngs.append(big / f"{i:02d}.png")
    sets = [("200 demo pictures, 84x84 PNG", sorted((ws.data_dir / IMAGE_FOLDER).glob("*.png"))[:200]),
            ("50 photo-like 1024x768 JPEG (q90)", jpegs), ("50 photo-like 1024x768 PNG", pngs)]

    def batches(items: list) -> list[list]:
        return [items[i:i + BATCH] for i in range(0, len(items), BATCH)]

    def best_of(fn, repeats: int = 2) -> float:  # noqa: ANN001
        times = []
        for _ in range(repeats):
            started = time.perf_counter()
            fn()
            times.append(time.perf_counter() - started)
        return min(times)

    print(f"\nImage preprocessing (batches of {BATCH}, best of 2; processor {type(processor).__name__}):\n")
    print("| pictures | ours: load_image + pixel_inputs, img/s | processor alone on decoded images (floor), img/s "
          "| ours / floor | processor input size |")
    print("|---|---:|---:|---:|---|")
    for label, paths in sets:
        ours_s = best_of(lambda paths=paths: [pixel_inputs(processor, [load_image(p, spec) for p in chunk])
                                             for chunk in batches(paths)])
        decoded = [load_image(p, spec) for p in paths]  # held in memory: the floor pays no decoding or resizing
        floor_s = best_of(lambda decoded=decoded: [processor(images=chunk, return_tensors="pt")
                                                   for chunk in batches(decoded)])
        size = "x".join(map(str, decoded[0].size))
        print(f"| {label} | {len(paths) / ours_s:,.1f} | {len(paths) / floor_s:,.1f} | {floor_s / ours_s:.2f} | "
              f"{size} |")


def chat_ttft(ws: Workspace, run: str, pictures: int) -> None:
    import torch

    from studio.encode.encoder import Encoder, Media, Options
    from studio.serve import chat
    from studio.serve.targets import run_target

    started = time.perf_counter()
    cm = chat.load(run_target(ws, run))
    load_s = time.perf_counter() - started
    settings = chat.GenSettings(temperature=0.0, max_new_tokens=12)
    one = chat.GenSettings(temperature=0.0, max_new_tokens=1)
    question = "What colour is the shape?"
    step = max(1, 240 // pictures)
    chosen = [(ws.data_dir / IMAGE_FOLDER / f"{i:04d}.png", COLORS[i % len(COLORS)][0])
              for i in range(0, 240, step)][:pictures]

    def messages(path: Path) -> list[dict]:
        return [{"role": "user", "content": question, "images": [str(path)]}]

    chat.reply(cm, messages(chosen[0][0]), settings)  # warm-up: first-call kernels and caches
    ttft, bare, whole, right = [], [], [], 0
    tok = cm.tokenizer
    for path, colour in chosen:
        st = chat.ReplyStats()
        answer = chat.reply(cm, messages(path), settings, stats=st)
        ttft.append(st.first_token_s)
        right += colour in answer.lower()
        t0 = time.perf_counter()
        chat.reply(cm, messages(path), one)
        whole.append(time.perf_counter() - t0)
        conv = chat.to_conversation(messages(path))  # the same ids and image tensors stream_reply builds
        ids = Encoder(cm.template, tok, Options(cutoff_len=1 << 30), Media(Path("/"), cm.images.spec)).prompt_ids(conv)
        input_ids = torch.tensor([ids])
        extra = cm.images([{"images": list(conv.images), "image_grid_thw": None}], input_ids)
        with torch.inference_mode():
            t0 = time.perf_counter()
            cm.model.generate(input_ids=input_ids, **extra, max_new_tokens=1, do_sample=False,
                              pad_token_id=tok.pad_token_id)
            bare.append(time.perf_counter() - t0)
    med = statistics.median
    print(f"\nChat with one picture (CPU, run {run}, load {load_s:.2f} s; medians over {len(chosen)} pictures, "
          f"{len(ids)} prompt tokens; {right}/{len(chosen)} replies name the colour, pictures seen in training):")
    print(f"time to first token (ReplyStats.first_token_s): {med(ttft):.3f} s; bare generate, 1 token, same "
          f"inputs (baseline): {med(bare):.3f} s ({med(ttft) / med(bare):.2f}x); whole chat.reply with 1 new token "
          f"(+ prompt encoding, picture decoding and processing): {med(whole):.3f} s ({med(whole) / med(bare):.2f}x)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--steps", type=int, default=120, help="max_steps of every training run (x8 rows)")
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--lf-cli", default=LF_CLI, help="llamafactory-cli of a LLaMA-Factory 0.9.5 venv")
    parser.add_argument("--model", default="", help="copy this demo-vl folder instead of building one")
    parser.add_argument("--warmup-steps", type=int, default=400, help="the built demo model's warm-up steps")
    parser.add_argument("--pictures", type=int, default=10)
    parser.add_argument("--threads", type=int, default=1,
                        help="OMP_NUM_THREADS for every process, both sides (0: torch's default, one per core)")
    args = parser.parse_args()
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    if args.threads > 0:  # before anything imports torch, in this process and in every child
        for env in (os.environ, ENV, LF_ENV):
            env["OMP_NUM_THREADS"] = str(args.threads)
    threads = f"{args.threads} (OMP_NUM_THREADS, both sides)" if args.threads > 0 else "torch's default"
    started = time.perf_counter()
    print(f"load average at start: {' '.join(f'{x:.2f}' for x in os.getloadavg())} ({os.cpu_count()} cores); "
          f"torch threads per process: {threads}")
    with tempfile.TemporaryDirectory(prefix="vision-bench-") as tmp:
        ws = Workspace.at(Path(tmp) / "ws")
        prepare(ws, args.model, args.warmup_steps)
        runs = training(ws, Path(tmp), args)
        preprocessing(ws, Path(tmp))
        chat_ttft(ws, runs[0], args.pictures)
    print(f"\nload average at the end: {' '.join(f'{x:.2f}' for x in os.getloadavg())}; "
          f"whole bench {time.perf_counter() - started:.0f} s")


if __name__ == "__main__":
    main()
