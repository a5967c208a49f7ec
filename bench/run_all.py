"""Every bench in one command; each prints its table (kept in bench/results/NAME.txt) and draws its chart.

    python bench/run_all.py [--lf-python /path/to/lf-venv/bin/python] [--quick]

--lf-python adds LLaMA-Factory's figures beside ours (preprocessing, training); --quick uses smaller sizes
(a 256 MiB preview file, 10,000 preprocessing rows, 20 training steps, one round) for a first look.
Figures, not pass/fail: the machine is noisy, so read each table's ratios, taken within its own run.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time
from pathlib import Path

BENCH = Path(__file__).resolve().parent
RESULTS = BENCH / "results"


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--lf-python", default="")
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--llama-python", default="", help="a Python with llama-cpp-python, for gguf_llamacpp")
    args = parser.parse_args()
    lf = ["--lf-python", args.lf_python] if args.lf_python else []
    quick = args.quick
    plan = [
        ("skeleton", []),
        ("data_preview", ["--gb", "0.25" if quick else "1"]),
        ("preprocess", ["--rows", "10000" if quick else "50000", *lf]),
        ("train_throughput", ["--steps", "20" if quick else "40", "--rounds", "1" if quick else "2", *lf]),
        ("chat_latency", []),
        ("eval_throughput", ["--rows", "32" if quick else "64", "--rounds", "1" if quick else "2", *lf]),
        ("dpo_throughput", ["--pairs", "40" if quick else "160", "--rounds", "1" if quick else "2", *lf]),
        ("live_curve", ["--lines", "4" if quick else "8"]),
        ("gguf_export", ["--rounds", "1" if quick else "2"]),
    ]
    if args.llama_python:  # llama.cpp is built from source with its Python package (minutes): only when given
        plan.append(("gguf_llamacpp", ["--llama-python", args.llama_python]))
    RESULTS.mkdir(exist_ok=True)
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "GRADIO_ANALYTICS_ENABLED": "False"}
    for name, extra in plan:
        started = time.perf_counter()
        print(f"\n=== {name} {' '.join(extra)}", flush=True)
        done = subprocess.run([sys.executable, str(BENCH / f"{name}.py"), *extra], env=env, capture_output=True,
                              text=True)
        output = done.stdout + (f"\n[exit {done.returncode}]\n{done.stderr[-3000:]}" if done.returncode else "")
        (RESULTS / f"{name}.txt").write_text(output, encoding="utf-8")
        print(output.rstrip(), f"\n({time.perf_counter() - started:.0f} s)", flush=True)


if __name__ == "__main__":
    main()
