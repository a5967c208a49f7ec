"""DPO throughput and memory: ours (stage dpo) beside LLaMA-Factory's DPO, on the same model, pairs and settings.

    python bench/dpo_throughput.py [--pairs 160] [--rounds 2] [--lf-python PYTHON]

The bench Llama of bench/train_throughput.py (24.5M parameters, demo tokenizer, random weights), alpaca-shaped pairs
(prompt, a chosen and a rejected answer of different lengths), cutoff 256, batch 4 pairs, LoRA r=8 on all linear
layers, sigmoid DPO with beta 0.1, one epoch over --pairs pairs (so a run's reference pass covers exactly the
pairs it trains on). Ours: a real `python -m studio train` run; LLaMA-Factory 0.9.5 in its own venv (its DPO
trainer computes the reference with the adapter off at every step). Figures: pairs/s and non-pad tokens/s of the
whole epoch (ours includes its reference pass before the first step, read from train.log) and of the training loop
alone; the worker's peak RSS. Configurations alternate over --rounds; the best round counts. Not pass/fail.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from preprocess import sentence  # noqa: E402
from train_throughput import _seconds, bench_model, run_llamafactory  # noqa: E402

from studio.core.rundir import read_metrics  # noqa: E402
from studio.core.workspace import Workspace  # noqa: E402
from studio.data.preference import load_preferences  # noqa: E402
from studio.data.registry import register  # noqa: E402
from studio.encode.encoder import Encoder, Options  # noqa: E402
from studio.encode.pairs import encode_pairs  # noqa: E402
from studio.model.info import load_tokenizer  # noqa: E402
from studio.templates.named import get_template  # noqa: E402

CUTOFF, BATCH = 256, 4
LF_SIDE = '''
import sys
from llamafactory.train.tuner import run_exp
model, data_dir, out, steps = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
run_exp(dict(model_name_or_path=model, stage="dpo", do_train=True, finetuning_type="lora", lora_target="all",
             lora_rank=8, dataset="bench_pairs", dataset_dir=data_dir, template="chatml", cutoff_len=256,
             per_device_train_batch_size=4, gradient_accumulation_steps=1, max_steps=steps, learning_rate=5e-6,
             pref_beta=0.1, pref_loss="sigmoid", logging_steps=1, output_dir=out, report_to="none",
             overwrite_output_dir=True, save_strategy="no", bf16=False, fp16=False, dataloader_num_workers=0,
             preprocessing_num_workers=None))
'''


def make_pairs(path: Path, rows: int) -> None:
    rng = random.Random(0)
    data = [{"instruction": sentence(rng, 5, 30), "input": "", "chosen": sentence(rng, 10, 90),
             "rejected": sentence(rng, 5, 60)} for _ in range(rows)]
    path.write_text(json.dumps(data, ensure_ascii=False), encoding="utf-8")


def ours(ws: Workspace, name: str, steps: int) -> dict[str, float]:
    cfg = ws.root / f"{name}.yaml"
    cfg.write_text(f"model_name_or_path: models/bench-27m\ndataset: bench_pairs\ntemplate: chatml\nstage: dpo\n"
                   f"cutoff_len: {CUTOFF}\nper_device_train_batch_size: {BATCH}\ngradient_accumulation_steps: 1\n"
                   f"max_steps: {steps}\nlogging_steps: 1\nsave_steps: 100000\nworst_rows: 0\nval_size: 0\n"
                   f"learning_rate: 5.0e-6\nrun_name: {name}\n", encoding="utf-8")
    shutil.rmtree(ws.runs_dir / name, ignore_errors=True)
    subprocess.run([sys.executable, "-m", "studio", "--workspace", str(ws.root), "train", str(cfg), "--preset",
                    "lora"], check=True, cwd=ROOT, stdout=subprocess.DEVNULL)
    run = ws.runs_dir / name
    status = json.loads((run / "status.json").read_text())
    rows = [m for m in read_metrics(run)[0] if "loss" in m]
    reference = float(re.search(r"reference log-probabilities: \d+ rows in ([\d.]+) s",
                                (run / "train.log").read_text()).group(1))
    loop = rows[-1]["elapsed_s"]  # the loop from its start (the first step included) to the last step
    return {"loop_s": loop, "epoch_s": loop + reference, "reference_s": reference, "tokens": rows[-1]["tokens_seen"],
            "rss": float(status["peak_rss_mb"])}


def llamafactory(python: str, ws: Workspace, steps: int, pair_tokens: float) -> dict[str, float]:
    out, rss, stderr = run_llamafactory(python, ws, LF_SIDE, str(steps))
    log = out / "trainer_log.jsonl"
    rows = [json.loads(line) for line in log.read_text().splitlines()] if log.exists() else []
    rows = [r for r in rows if "loss" in r]
    if not rows:
        print(stderr)
        return {"loop_s": float("inf"), "epoch_s": float("inf"), "tokens": 0.0, "rss": rss}
    loop = _seconds(rows[-1]["elapsed_time"])  # from the loop's start, as ours
    return {"loop_s": loop, "epoch_s": loop, "reference_s": 0.0, "tokens": steps * BATCH * pair_tokens, "rss": rss}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--pairs", type=int, default=160)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--lf-python", default="")
    args = parser.parse_args()
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    steps = args.pairs // BATCH
    ws = Workspace.at(Path(tempfile.mkdtemp()) / "ws")
    model = bench_model(ws)
    make_pairs(ws.data_dir / "bench_pairs.json", args.pairs)
    register(ws.registry_file, "bench_pairs", {"file_name": "bench_pairs.json", "ranking": True, "columns": {
        "prompt": "instruction", "query": "input", "chosen": "chosen", "rejected": "rejected"}})
    tok = load_tokenizer(model)
    pairs = encode_pairs(Encoder(get_template("chatml"), tok, Options(CUTOFF)),
                         load_preferences(ws.registry_file, "bench_pairs").items)
    pair_tokens = sum(len(p.chosen_input_ids) + len(p.rejected_input_ids) for p in pairs) / len(pairs)
    print(f"data: {len(pairs)} pairs, mean {pair_tokens:.0f} tokens per pair (both sides), cutoff {CUTOFF}, "
          f"batch {BATCH} pairs, {steps} steps (one epoch)")
    lf_name = "LLaMA-Factory 0.9.5 DPO (reference every step)"
    our_name = "ours, stage dpo (reference once, grouped)"
    names = ([lf_name] if args.lf_python else []) + [our_name]
    results: dict[str, list[dict[str, float]]] = {}
    for round_ in range(args.rounds):
        for name in names[round_ % len(names):] + names[:round_ % len(names)]:
            got = (llamafactory(args.lf_python, ws, steps, pair_tokens) if name == lf_name
                   else ours(ws, f"dpo-{round_}", steps))
            results.setdefault(name, []).append(got)
            print(f"  round {round_ + 1}: {name:48s} epoch {got['epoch_s']:6.1f} s, loop {got['loop_s']:6.1f} s, "
                  f"peak RSS {got['rss']:.0f} MiB", flush=True)
    best = {n: min(results[n], key=lambda r: r["epoch_s"]) for n in names}
    rss = {n: max(r["rss"] for r in results[n]) for n in names}
    base = best[names[0]]
    print(f"\n{'configuration':50s} {'pairs/s':>8s} {'tok/s':>7s} {'x LF':>5s} {'loop pairs/s':>13s} "
          f"{'x LF':>5s} {'reference':>9s} {'peak RSS':>9s}")
    for name in names:
        r = best[name]
        pps, loop_pps = args.pairs / r["epoch_s"], args.pairs / r["loop_s"]
        print(f"{name:50s} {pps:8.2f} {r['tokens'] / r['epoch_s']:7.0f} {base['epoch_s'] / r['epoch_s']:5.2f} "
              f"{loop_pps:13.2f} {base['loop_s'] / r['loop_s']:5.2f} {r.get('reference_s', 0):8.1f}s "
              f"{rss[name]:7.0f}Mi")
    import math

    from chart import bars

    from studio.model.info import tensor_shapes

    size = sum(math.prod(shape) for shape in tensor_shapes(model).values()) / 1e6
    bars("dpo_throughput", f"DPO, {len(pairs)} pairs, {size:.1f}M Llama, LoRA r8, cutoff {CUTOFF}, batch {BATCH} pairs "
         f"(best of {args.rounds})", "pairs/s over the epoch", [(n, args.pairs / best[n]["epoch_s"]) for n in names],
         baseline=names[0])


if __name__ == "__main__":
    main()
