"""Evaluation throughput: our eval job beside LLaMA-Factory's `do_predict` on the same model, rows and settings.

    python bench/eval_throughput.py [--rows 64] [--batch 8] [--new-tokens 64] [--rounds 2] [--lf-python PY]

The ~27M-parameter Llama of train_throughput.py (the demo tokenizer, random weights: speed does not depend on what
the weights know; greedy answers run to max_new_tokens unless an end token comes), alpaca-shaped rows of varied
prompt lengths, cutoff 512, greedy, the same batch size. Ours is a real `python -m studio eval` job (a worker
process); its figure is the job's own time from eval.log: the references' loss pass plus generation, and
generation alone beside it. LLaMA-Factory's is predict_runtime from its predict_results.json (its do_predict
generates only: it drops the labels before the prediction step, so it computes no loss). Predictions/s,
generated tokens/s (LLaMA-Factory's counted by tokenizing its predictions), the peak RSS
of each process. Best of --rounds, alternating. Figures, not pass/fail.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from preprocess import make_alpaca  # noqa: E402
from train_throughput import bench_model, run_llamafactory  # noqa: E402

from studio.core.workspace import Workspace  # noqa: E402
from studio.data.registry import register  # noqa: E402

LF_SIDE = '''
import sys
from llamafactory.train.tuner import run_exp
model, data_dir, out, rows, batch, new = sys.argv[1], sys.argv[2], sys.argv[3], *map(int, sys.argv[4:7])
run_exp(dict(model_name_or_path=model, stage="sft", do_predict=True, predict_with_generate=True,
             finetuning_type="lora", eval_dataset="bench_eval", dataset_dir=data_dir, template="chatml",
             cutoff_len=512, max_samples=rows, per_device_eval_batch_size=batch, max_new_tokens=new,
             do_sample=False, output_dir=out, report_to="none", overwrite_output_dir=True, bf16=False, fp16=False,
             dataloader_num_workers=0, preprocessing_num_workers=None))
'''


def ours(ws: Workspace, rows: int, batch: int, new: int, name: str) -> tuple[float, float, float, float]:
    """(predictions/s, generated tokens/s, worker peak RSS MiB, predictions/s of generation alone) of one job."""
    shutil.rmtree(ws.runs_dir / name, ignore_errors=True)
    subprocess.run([sys.executable, "-m", "studio", "--workspace", str(ws.root), "eval", "--model",
                    "models/bench-27m", "--template", "chatml", "--dataset", "bench_eval", "--max-samples", str(rows),
                    "--batch-size", str(batch), "--max-new-tokens", str(new), "--name", name],
                   check=True, cwd=ROOT, stdout=subprocess.DEVNULL, env={**os.environ, "HF_HUB_OFFLINE": "1"})
    job = ws.runs_dir / name
    speed = json.loads((job / "scores.json").read_text())["scores"]["base"]["speed"]
    rss = float(json.loads((job / "status.json").read_text())["peak_rss_mb"])
    return speed["predictions_per_s"], speed["tokens_per_s"], rss, speed["generate_predictions_per_s"]


def llamafactory(python: str, ws: Workspace, rows: int, batch: int, new: int) -> tuple[float, float, float, float]:
    from transformers import AutoTokenizer

    out, rss, stderr = run_llamafactory(python, ws, LF_SIDE, str(rows), str(batch), str(new))
    results = out / "predict_results.json"
    if not results.exists():
        print(stderr)
        return 0.0, 0.0, rss, 0.0
    seconds = json.loads(results.read_text())["predict_runtime"]
    tok = AutoTokenizer.from_pretrained(ws.root / "models" / "bench-27m")
    predictions = [json.loads(line)["predict"] for line in (out / "generated_predictions.jsonl").open()]
    tokens = sum(min(new, len(tok(p, add_special_tokens=False)["input_ids"]) + 1) for p in predictions)
    return len(predictions) / seconds, tokens / seconds, rss, len(predictions) / seconds  # it computes no loss


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rows", type=int, default=64)
    parser.add_argument("--batch", type=int, default=8)
    parser.add_argument("--new-tokens", type=int, default=64)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--lf-python", default="")
    args = parser.parse_args()
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    ws = Workspace.at(Path(tempfile.mkdtemp()) / "ws")
    bench_model(ws)
    make_alpaca(ws.data_dir / "bench_eval.json", args.rows)
    register(ws.registry_file, "bench_eval", {"file_name": "bench_eval.json"})
    print(f"{args.rows} rows, batch {args.batch}, max_new_tokens {args.new_tokens}, greedy, cutoff 512")
    names = (["LLaMA-Factory do_predict"] if args.lf_python else []) + ["ours (studio eval)"]
    best: dict[str, tuple[float, float, float, float]] = {}
    for round_ in range(args.rounds):
        order = names[round_ % len(names):] + names[:round_ % len(names)]
        for name in order:
            if name.startswith("LLaMA"):
                got = llamafactory(args.lf_python, ws, args.rows, args.batch, args.new_tokens)
            else:
                got = ours(ws, args.rows, args.batch, args.new_tokens, f"bench-{round_}")
            print(f"  round {round_ + 1}: {name:28s} {got[0]:7.2f} predictions/s {got[1]:8.1f} tokens/s "
                  f"peak RSS {got[2]:.0f} MiB; generation alone {got[3]:.2f} predictions/s", flush=True)
            if name not in best or got[0] > best[name][0]:
                best[name] = (got[0], got[1], max(got[2], best.get(name, (0, 0, 0, 0))[2]), got[3])
    first = best[names[0]]
    print(f"\n{'':28s} {'pred/s':>8s} {'tok/s':>8s} {'peak RSS':>9s} {'x first':>8s} {'generation alone':>17s}")
    for name in names:
        p, tps, rss, gen = best[name]
        print(f"{name:28s} {p:8.2f} {tps:8.1f} {rss:7.0f}Mi {p / first[0] if first[0] else 0:8.2f} "
              f"{gen:8.2f} pred/s {gen / first[3] if first[3] else 0:5.2f}x")
    sys.path.insert(0, str(ROOT / "bench"))
    from chart import bars

    bars("eval_throughput", f"Evaluation, {args.rows} rows, batch {args.batch}, {args.new_tokens} new tokens, greedy "
         f"(best of {args.rounds})", "predictions/s", [(n, best[n][0]) for n in names], baseline=names[0])


if __name__ == "__main__":
    main()
