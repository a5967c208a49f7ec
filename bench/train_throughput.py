"""Training throughput and memory: grouped (the default), padded, packed, glibc's malloc, LLaMA-Factory beside them.

    python bench/train_throughput.py [--steps 40] [--rounds 2] [--memory-steps 3] [--lf-python PYTHON] [--ui]

A ~27M-parameter Llama built like the demo model (the demo tokenizer, random weights: speed does not
depend on what the weights know), alpaca-shaped rows, cutoff 512, batch 8, LoRA r=8 on all linear layers.
Each configuration is a real `python -m studio train` run; its figure is the non-pad tokens the Trainer
counted over the wall time of the training loop (metrics.jsonl). LLaMA-Factory runs its default SFT
recipe (padded, random order, gradient checkpointing) on the same model, file and template: its figure is its
samples/s times the mean non-pad tokens per example of the file. Configurations alternate over --rounds (order
rotated); the best round counts. Also: examples/s; the worker's peak RSS (the highest round) and, for ours, the
training phase's; peak RSS at 2x and 4x the batch (--memory-steps steps each); MFU two ways over this machine's
measured matmul peak: the usual 6 x non-embedding parameters x tokens/s, and the useful FLOPs the worker counts
(studio/train/flops.py; LLaMA-Factory's at the same FLOPs per token); a PNG in bench/results/; with --ui the UI
server's CPU and memory while it watches a run. Figures, not pass/fail: compare ratios from one run.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import shutil
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from preprocess import make_alpaca  # noqa: E402

from studio.core.rundir import read_metrics  # noqa: E402
from studio.core.workspace import Workspace  # noqa: E402
from studio.data.registry import register  # noqa: E402
from studio.encode.cache import encode_dataset  # noqa: E402
from studio.encode.encoder import Options  # noqa: E402
from studio.model.info import load_tokenizer  # noqa: E402
from studio.train.demo import create_model  # noqa: E402

CUTOFF, BATCH = 512, 8
LF_SIDE = '''
import json, sys
from llamafactory.train.tuner import run_exp
model, data_dir, out, steps = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
run_exp(dict(model_name_or_path=model, stage="sft", do_train=True, finetuning_type="lora", lora_target="all",
             lora_rank=8, dataset="bench_alpaca", dataset_dir=data_dir, template="chatml", cutoff_len=512,
             per_device_train_batch_size=8, gradient_accumulation_steps=1, max_steps=steps, learning_rate=1e-4,
             logging_steps=5 if steps > 10 else 1, output_dir=out, report_to="none", overwrite_output_dir=True, save_strategy="no",
             bf16=False, fp16=False, dataloader_num_workers=0, preprocessing_num_workers=None))
'''


def bench_model(ws: Workspace) -> Path:
    """The demo tokenizer with a ~27M-parameter Llama of random weights."""
    from transformers import LlamaConfig, LlamaForCausalLM

    demo = ws.root / "models" / "demo-tiny"
    if not demo.exists():
        create_model(demo, warmup_steps=1)  # only its tokenizer is used
    target = ws.root / "models" / "bench-27m"
    tok = load_tokenizer(demo)
    config = LlamaConfig(vocab_size=len(tok), hidden_size=512, intermediate_size=1408, num_hidden_layers=8,
                         num_attention_heads=8, num_key_value_heads=4, max_position_embeddings=1024,
                         tie_word_embeddings=True, eos_token_id=tok.convert_tokens_to_ids("<|im_end|>"),
                         pad_token_id=tok.convert_tokens_to_ids("<|endoftext|>"), bos_token_id=None)
    model = LlamaForCausalLM(config)
    model.save_pretrained(target, safe_serialization=True)
    tok.save_pretrained(target)
    print(f"model: {sum(p.numel() for p in model.parameters()) / 1e6:.1f}M parameters")
    return target


def matmul_peak(n: int = 2048, repeats: int = 5) -> float:
    """This machine's dense fp32 matmul FLOP/s (best of `repeats`): the denominator of MFU."""
    import torch

    a, b = torch.randn(n, n), torch.randn(n, n)
    torch.matmul(a, b)  # warm-up
    best = float("inf")
    for _ in range(repeats):
        started = time.perf_counter()
        torch.matmul(a, b)
        best = min(best, time.perf_counter() - started)
    return 2 * n**3 / best


def compute_params(ws: Workspace) -> int:
    """Parameters every token passes through: all but the embedding table (a lookup, not a matmul)."""
    from studio.model.info import tensor_shapes

    shapes = tensor_shapes(ws.root / "models" / "bench-27m")
    return sum(math.prod(s) for name, s in shapes.items() if "embed_tokens" not in name)


def ours(ws: Workspace, name: str, steps: int, extra: str, batch: int = BATCH) -> dict[str, float]:
    """One real run: non-pad tokens/s and useful FLOP/s over the training loop (metrics.jsonl), the worker's peak
    RSS, and its training phase's peak (status.json's memory by phase)."""
    cfg = ws.root / f"{name}.yaml"
    cfg.write_text(f"model_name_or_path: models/bench-27m\ndataset: bench_alpaca\ntemplate: chatml\n"
                   f"cutoff_len: {CUTOFF}\nper_device_train_batch_size: {batch}\ngradient_accumulation_steps: 1\n"
                   f"max_steps: {steps}\nlogging_steps: {5 if steps > 10 else 1}\nsave_steps: 100000\nworst_rows: 0\n"
                   f"val_size: 0\nrun_name: {name}\n{extra}", encoding="utf-8")
    shutil.rmtree(ws.runs_dir / name, ignore_errors=True)  # a second round reuses the name
    subprocess.run([sys.executable, "-m", "studio", "--workspace", str(ws.root), "train", str(cfg), "--preset",
                    "lora"], check=True, cwd=ROOT, stdout=subprocess.DEVNULL)
    status = json.loads((ws.runs_dir / name / "status.json").read_text())
    phases = {p["phase"]: p for p in status.get("memory", [])}
    rows = [m for m in read_metrics(ws.runs_dir / name)[0] if "loss" in m]
    first, last = rows[0], rows[-1]  # from the first log line on: model loading and warm-up excluded
    seconds = last["elapsed_s"] - first["elapsed_s"]
    return {"tps": (last["tokens_seen"] - first["tokens_seen"]) / seconds,
            "flops": (last.get("flops", 0) - first.get("flops", 0)) / seconds,
            "flops_per_token": (last.get("flops", 0) - first.get("flops", 0)) / (last["tokens_seen"] - first["tokens_seen"]),
            "rss": float(status["peak_rss_mb"]), "phases": phases}


def run_llamafactory(python: str, ws: Workspace, code: str, *args: str) -> tuple[Path, float, str]:
    """LLaMA-Factory's side (`code` with MODEL DATA_DIR OUT *args) in its venv on a copy of the bench model: the
    output folder, the peak RSS (MiB) of its process, the tail of its stderr."""
    out = Path(tempfile.mkdtemp())
    model = out / "model"
    shutil.copytree(ws.root / "models" / "bench-27m", model)
    config = json.loads((model / "tokenizer_config.json").read_text())
    config["tokenizer_class"] = "PreTrainedTokenizerFast"  # the class name older transformers know
    (model / "tokenizer_config.json").write_text(json.dumps(config))
    probe = ("import resource, subprocess, sys; d = subprocess.run(sys.argv[1:], capture_output=True, text=True); "
             "print(d.stderr[-3000:], file=sys.stderr); print(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)")
    done = subprocess.run([sys.executable, "-c", probe, python, "-c", code, str(model), str(ws.data_dir),
                           str(out / "run"), *args], capture_output=True, text=True, cwd=out,
                          env={**os.environ, "DISABLE_VERSION_CHECK": "1", "CUDA_VISIBLE_DEVICES": ""})
    rss = int(done.stdout.split()[-1]) / 1024 if done.stdout.split() else 0.0
    return out / "run", rss, done.stderr[-2000:]


def llamafactory(python: str, ws: Workspace, steps: int, mean_tokens: float, batch: int = BATCH) -> dict[str, float]:
    code = LF_SIDE.replace("per_device_train_batch_size=8", f"per_device_train_batch_size={batch}")
    out, rss, stderr = run_llamafactory(python, ws, code, str(steps))
    log = out / "trainer_log.jsonl"  # LLaMA-Factory's own per-log-step record: steps and elapsed seconds
    rows = [json.loads(line) for line in log.read_text().splitlines()] if log.exists() else []
    rows = [r for r in rows if "loss" in r]
    if len(rows) < 2:
        print(stderr)
        return {"tps": 0.0, "rss": rss}
    first, last = rows[0], rows[-1]  # the same window as ours: from the first log line to the last
    examples = (last["current_steps"] - first["current_steps"]) * batch
    seconds = _seconds(last["elapsed_time"]) - _seconds(first["elapsed_time"])
    return {"tps": examples * mean_tokens / seconds, "rss": rss}


def _seconds(text: str) -> float:
    """LLaMA-Factory writes elapsed time as H:MM:SS."""
    h, m, s = (float(x) for x in str(text).split(":"))
    return 3600 * h + 60 * m + s


def ui_cost(ws: Workspace, steps: int) -> str:
    """The studio's server while a real browser watches a training run in the Runs tab: its CPU and memory."""
    from playwright.sync_api import sync_playwright

    port = 7871
    server = subprocess.Popen([sys.executable, "app.py", "--workspace", str(ws.root), "--port", str(port)],
                              cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        for _ in range(120):
            try:
                urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=1)
                break
            except OSError:
                time.sleep(0.5)
        cfg = ws.root / "watched.yaml"
        cfg.write_text(f"model_name_or_path: models/bench-27m\ndataset: bench_alpaca\nmax_steps: {steps}\n"
                       "logging_steps: 1\nworst_rows: 0\nrun_name: watched\n", encoding="utf-8")
        subprocess.run([sys.executable, "-m", "studio", "--workspace", str(ws.root), "train", str(cfg), "--preset",
                        "lora", "--detach"], check=True, cwd=ROOT, stdout=subprocess.DEVNULL)
        clk = os.sysconf("SC_CLK_TCK")

        def cpu() -> float:
            fields = Path(f"/proc/{server.pid}/stat").read_text().rsplit(")", 1)[1].split()
            return (int(fields[11]) + int(fields[12])) / clk

        with sync_playwright() as pw:
            browser = pw.chromium.launch(executable_path="/usr/bin/chromium", args=["--headless", "--no-sandbox",
                                                                                     "--disable-gpu"])
            page = browser.new_page()
            page.goto(f"http://127.0.0.1:{port}/")
            page.get_by_role("tab", name="Runs").click()
            time.sleep(5)
            before, t0 = cpu(), time.perf_counter()
            time.sleep(30)  # one refresh a second, a new metrics line every step
            used = cpu() - before
            browser.close()
        rss = int(next(ln.split()[1] for ln in Path(f"/proc/{server.pid}/status").read_text().splitlines()
                       if ln.startswith("VmRSS")))
        return (f"UI server while a browser watches a training run for 30 s: "
                f"{100 * used / (time.perf_counter() - t0):.1f}% of one core, RSS {rss / 1024:.0f} MiB")
    finally:
        subprocess.run([sys.executable, "-m", "studio", "--workspace", str(ws.root), "runs", "abort", "watched",
                        "--grace", "5"], cwd=ROOT, capture_output=True)
        server.terminate()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--steps", type=int, default=40)
    parser.add_argument("--rows", type=int, default=2000)
    parser.add_argument("--lf-python", default="")
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--memory-steps", type=int, default=4, help="steps of the 2x and 4x batch runs (0: none)")
    parser.add_argument("--ui", action="store_true", help="also measure the UI server while it watches a run")
    args = parser.parse_args()
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    ws = Workspace.at(Path(tempfile.mkdtemp()) / "ws")
    bench_model(ws)
    make_alpaca(ws.data_dir / "bench_alpaca.json", args.rows)
    register(ws.registry_file, "bench_alpaca", {"file_name": "bench_alpaca.json"})
    kept, _, _ = encode_dataset(ws.registry_file, "bench_alpaca", load_tokenizer(ws.root / "models" / "bench-27m"),
                                "chatml", Options(CUTOFF))
    mean_tokens = sum(len(e.input_ids) for e in kept) / len(kept)
    print(f"data: {len(kept)} rows, mean {mean_tokens:.0f} tokens, cutoff {CUTOFF}, batch {BATCH}, {args.steps} steps")
    lf_name = "LLaMA-Factory 0.9.5 default (padded, checkpointing)"
    configs = {"ours, grouped by length (the default)": "",
               "ours, padded (random batches)": "group_by_length: false\n",
               "ours, packed": "packing: true\ngroup_by_length: false\n",
               "ours, grouped, glibc malloc": "STUDIO_MALLOC=system"}
    names = ([lf_name] if args.lf_python else []) + list(configs)

    def one(name: str, steps: int, batch: int) -> dict[str, float]:
        if name == lf_name:
            return llamafactory(args.lf_python, ws, steps, mean_tokens, batch)
        extra = configs[name]
        malloc = extra.startswith("STUDIO_MALLOC=")
        os.environ.pop("STUDIO_MALLOC", None)
        if malloc:
            os.environ["STUDIO_MALLOC"] = extra.split("=", 1)[1]
        try:
            return ours(ws, f"r{names.index(name)}-b{batch}", steps, "" if malloc else extra, batch)
        finally:
            os.environ.pop("STUDIO_MALLOC", None)

    results: dict[str, list[dict[str, float]]] = {}
    for round_ in range(args.rounds):  # alternate: each round runs every configuration once, order rotated
        order = names[round_ % len(names):] + names[:round_ % len(names)]
        for name in order:
            got = one(name, args.steps, BATCH)
            results.setdefault(name, []).append(got)
            print(f"  round {round_ + 1}: {name:44s} {got['tps']:8.0f} non-pad tokens/s, peak RSS {got['rss']:.0f} MiB",
                  flush=True)
    grown: dict[str, dict[int, float]] = {n: {} for n in names}
    for factor in (2, 4) if args.memory_steps else ():
        for name in names:
            grown[name][factor] = one(name, args.memory_steps, BATCH * factor)["rss"]
            print(f"  batch {BATCH * factor}: {name:44s} peak RSS {grown[name][factor]:.0f} MiB", flush=True)
    peak_flops, n_params = matmul_peak(), compute_params(ws)
    best = {n: max(results[n], key=lambda r: r["tps"]) for n in names}
    rss = {n: max(r["rss"] for r in results[n]) for n in names}
    base, base_rss = best[names[0]]["tps"] or 1.0, rss[names[0]] or 1.0
    per_token = best["ours, padded (random batches)"]["flops_per_token"]  # the useful work of a token of this data
    print(f"\npeak = measured fp32 matmul {peak_flops / 1e9:.1f} GFLOP/s (2048x2048, best of 5). MFU (6N) = 6 x "
          f"{n_params / 1e6:.1f}M non-embedding parameters x non-pad tokens/s / peak, the usual rule. MFU (useful) = the "
          f"FLOPs of what runs (studio/train/flops.py: LoRA 4N + 6 x adapters, attention at real lengths, the "
          f"head at answer tokens), {per_token / 1e6:.1f} MFLOP per non-pad token of this data, / peak")
    head = (f"{'configuration':52s} {'tok/s':>7s} {'ex/s':>5s} {'x LF':>5s} {'peak RSS':>9s} {'x LF':>5s} "
            f"{'RSS b16':>8s} {'RSS b32':>8s} {'MFU 6N':>7s} {'MFU':>6s}  training-phase peak")
    print(head)
    for name in names:
        r = best[name]
        useful = r.get("flops") or r["tps"] * per_token
        train = r.get("phases", {}).get("training", {}).get("peak_mb")
        print(f"{name:52s} {r['tps']:7.0f} {r['tps'] / mean_tokens:5.2f} {r['tps'] / base:5.2f} {rss[name]:7.0f}Mi "
              f"{rss[name] / base_rss:5.2f} {grown[name].get(2, 0):6.0f}Mi {grown[name].get(4, 0):6.0f}Mi "
              f"{100 * 6 * n_params * r['tps'] / peak_flops:6.1f}% {100 * useful / peak_flops:5.1f}%  "
              f"{f'{train:.0f} MiB' if train else ''}")
    for name in names:
        phases = best[name].get("phases")
        if phases:
            print(f"memory by phase, {name}: " + ", ".join(f"{k} {v['peak_mb']:.0f}" for k, v in phases.items()))
    sys.path.insert(0, str(ROOT / "bench"))
    from chart import bars

    bars("train_throughput", f"Training throughput, {n_params / 1e6:.0f}M Llama, LoRA r8, cutoff {CUTOFF}, "
         f"batch {BATCH} (best of {args.rounds})", "non-pad tokens/s", [(n, best[n]["tps"]) for n in names],
         baseline=names[0])
    if args.ui:
        print(ui_cost(ws, 200), flush=True)


if __name__ == "__main__":
    main()
