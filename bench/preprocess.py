"""Preprocessing throughput (file -> input_ids + labels) and packing efficiency.

    python bench/preprocess.py [--rows 50000] [--lf-python /path/to/lf-venv/bin/python]

With --lf-python (a venv with llamafactory 0.9.x installed), LLaMA-Factory's own get_dataset runs on
the same file, tokenizer and template in the same run, its time is printed beside ours, and the ids of
both are compared row by row. Figures, not pass/fail.
"""

from __future__ import annotations

import argparse
import json
import random
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from studio.core.workspace import Workspace  # noqa: E402
from studio.encode.cache import encode_dataset  # noqa: E402
from studio.encode.encoder import Options  # noqa: E402
from studio.encode.packing import batched, efficiency, pack  # noqa: E402
from studio.model.info import load_tokenizer  # noqa: E402
from studio.train.demo import DEMO_DATASET, create_model, ensure_dataset  # noqa: E402

WORDS = ("the model learns from data and answers questions about water fire trees books rivers mountains "
         "我 你 他 学习 数据 回答 问题 山 水 火 树 书 河 城市 音乐 朋友 老师 学校").split()
LF_SIDE = '''
import json, sys, time
from llamafactory.data import get_dataset, get_template_and_fix_tokenizer
from llamafactory.hparams import get_train_args
from llamafactory.model import load_tokenizer
model, data_dir, out, cutoff = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
args = dict(model_name_or_path=model, stage="sft", do_train=True, finetuning_type="lora", dataset="bench_alpaca",
            dataset_dir=data_dir, template="chatml", cutoff_len=cutoff, output_dir=out, overwrite_cache=True,
            report_to="none", overwrite_output_dir=True)
model_args, data_args, training_args, _, _ = get_train_args(args)
tm = load_tokenizer(model_args)
template = get_template_and_fix_tokenizer(tm["tokenizer"], data_args)
t0 = time.perf_counter()
ds = get_dataset(template, model_args, data_args, training_args, stage="sft", **tm)["train_dataset"]
seconds = time.perf_counter() - t0
head = [{"input_ids": r["input_ids"], "labels": r["labels"]} for r in ds.select(range(min(500, len(ds))))]
print(json.dumps({"rows": len(ds), "seconds": seconds, "head": head}))
'''


def sentence(rng: random.Random, lo: int, hi: int) -> str:
    return " ".join(rng.choice(WORDS) for _ in range(rng.randint(lo, hi)))


def make_alpaca(path: Path, rows: int) -> None:
    rng = random.Random(0)
    data = [{"instruction": sentence(rng, 5, 40), "input": sentence(rng, 0, 30) if rng.random() < 0.4 else "",
             "output": sentence(rng, 10, 200)} for _ in range(rows)]
    path.write_text(json.dumps(data, ensure_ascii=False), encoding="utf-8")


def ours(ws: Workspace, model: Path, name: str, cutoff: int) -> tuple[float, list]:
    best, kept = float("inf"), []
    for _ in range(2):
        start = time.perf_counter()
        kept, _, _ = encode_dataset(ws.registry_file, name, load_tokenizer(model), "chatml", Options(cutoff))
        best = min(best, time.perf_counter() - start)
    return best, kept


def packing_figures(kept: list, cutoff: int, batch: int = 8) -> tuple[float, float, int, int]:
    rows = [{"input_ids": e.input_ids, "labels": e.labels} for e in kept]
    shuffled = rows[:]
    random.Random(0).shuffle(shuffled)
    padded = efficiency(batched(shuffled, batch))
    packed_rows = pack(rows, cutoff)
    return padded, efficiency(batched(packed_rows, batch)), len(rows), len(packed_rows)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--rows", type=int, default=50_000)
    ap.add_argument("--cutoff", type=int, default=1024)
    ap.add_argument("--lf-python", default="", help="python of a venv with llamafactory installed")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        ws = Workspace.at(Path(tmp) / "ws")
        ensure_dataset(ws)
        model = ws.root / "models" / "demo-tiny"
        create_model(model)
        make_alpaca(ws.data_dir / "bench_alpaca.json", args.rows)
        registry = json.loads(ws.registry_file.read_text(encoding="utf-8"))
        registry["bench_alpaca"] = {"file_name": "bench_alpaca.json"}
        ws.registry_file.write_text(json.dumps(registry, ensure_ascii=False), encoding="utf-8")

        seconds, kept = ours(ws, model, "bench_alpaca", args.cutoff)
        print(f"ours: {args.rows} alpaca rows -> {len(kept)} encoded in {seconds:.2f} s "
              f"= {len(kept) / seconds:,.0f} examples/s (template chatml, cutoff {args.cutoff}, demo tokenizer)")
        if args.lf_python:
            lf_model = Path(tmp) / "lf-model"
            shutil.copytree(model, lf_model)
            config = json.loads((lf_model / "tokenizer_config.json").read_text())
            config["tokenizer_class"] = "PreTrainedTokenizerFast"  # the class name older transformers know
            (lf_model / "tokenizer_config.json").write_text(json.dumps(config))
            done = subprocess.run([args.lf_python, "-c", LF_SIDE, str(lf_model), str(ws.data_dir),
                                   str(Path(tmp) / "lf-out"), str(args.cutoff)], capture_output=True, text=True)
            if done.returncode != 0:
                print("LLaMA-Factory failed:", done.stderr[-2000:])
            else:
                lf = json.loads(done.stdout.strip().splitlines()[-1])
                same = all(r["input_ids"] == e.input_ids and r["labels"] == e.labels
                           for r, e in zip(lf["head"], kept, strict=False))
                print(f"LLaMA-Factory 0.9: {lf['rows']} encoded in {lf['seconds']:.2f} s "
                      f"= {lf['rows'] / lf['seconds']:,.0f} examples/s")
                print(f"ratio: ours {lf['seconds'] / seconds:.1f}x faster; first {len(lf['head'])} rows' ids and "
                      f"labels identical: {same}")
                sys.path.insert(0, str(Path(__file__).resolve().parent))
                from chart import bars

                bars("preprocess", f"Encoding {args.rows:,} alpaca rows (chatml, cutoff {args.cutoff})",
                     "examples/s", [("LLaMA-Factory 0.9.3", lf["rows"] / lf["seconds"]),
                                    ("ours", len(kept) / seconds)], baseline="LLaMA-Factory 0.9.3")
        for name, data in (("alpaca-shaped", kept), ("demo", encode_dataset(
                ws.registry_file, DEMO_DATASET, load_tokenizer(model), "chatml", Options(args.cutoff))[0])):
            padded, packed, n, rows = packing_figures(data, args.cutoff)
            print(f"packing efficiency ({name}, cutoff {args.cutoff}, batch 8): padded to longest {padded:.1%}, "
                  f"packed {packed:.1%} ({n} examples in {rows} rows)")


if __name__ == "__main__":
    main()
