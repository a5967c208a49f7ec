"""Data tab figures: first-page preview of a large jsonl and a large JSON list, and the full inspect pass.

Run: python bench/data_preview.py [--gb 1.0] [--keep]   (prints a table; nothing is pass/fail)

Each figure is taken in a fresh subprocess, so its peak RSS is its own. Baselines from the same run:
- "read once": reading the file's bytes end to end (no parsing): a floor for any loader that reads it all;
- "parse all": json.loads of every line, what a preview that loads the whole file pays first.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

PROBES = {
    "preview": """
import sys, time, resource
sys.path.insert(0, {root!r})
from pathlib import Path
from studio.data import actions
from studio.encode import lengths
from studio.data.registry import DatasetEntry
start = time.perf_counter()
entry = DatasetEntry.parse("big", {{"file_name": {name!r}}})
items, more = actions.preview_entry(Path({dir!r}), entry, 0, 20)
took = time.perf_counter() - start
assert len(items) == 20 and more
print(took, resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)
""",
    "read once": """
import time, resource
start = time.perf_counter()
with open({path!r}, "rb") as f:
    while f.read(1 << 24):
        pass
print(time.perf_counter() - start, resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)
""",
    "parse all": """
import json, time, resource
start = time.perf_counter()
with open({path!r}, encoding="utf-8") as f:
    rows = [json.loads(line) for line in f] if {path!r}.endswith(".jsonl") else json.load(f)
print(time.perf_counter() - start, resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)
""",
}


def make_rows(target_bytes: int, path: Path, as_list: bool, max_rows: int | None = None) -> int:
    rng = random.Random(0)
    words = "the of and to in is that for it as with was on be by at this from 的 是 在 了 和 有 我们 数据 模型".split()
    written, n = 0, 0
    with path.open("w", encoding="utf-8") as f:
        if as_list:
            f.write("[\n")
        while written < target_bytes and (max_rows is None or n < max_rows):
            row = {"instruction": " ".join(rng.choices(words, k=rng.randint(5, 40))), "input": "",
                   "output": " ".join(rng.choices(words, k=rng.randint(20, 400)))}
            line = json.dumps(row, ensure_ascii=False)
            if as_list:
                line = ("  " if n == 0 else ",\n  ") + line
            else:
                line += "\n"
            f.write(line)
            written += len(line.encode())
            n += 1
        if as_list:
            f.write("\n]\n")
    return n


def probe(kind: str, path: Path) -> tuple[float, float]:
    code = PROBES[kind].format(root=str(ROOT), dir=str(path.parent), name=path.name, path=str(path))
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                         env={**os.environ, "HF_HUB_OFFLINE": "1"}).stdout.split()
    return float(out[0]), float(out[1])


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--gb", type=float, default=1.0)
    parser.add_argument("--keep", action="store_true", help="keep the generated files")
    parser.add_argument("--model", type=Path, default=ROOT / "workspace" / "models" / "demo-tiny",
                        help="tokenizer for the inspect figure")
    args = parser.parse_args()
    folder = Path(tempfile.mkdtemp(prefix="studio-bench-"))
    size = int(args.gb * (1 << 30))
    print(f"machine: {os.cpu_count()} CPUs, python {sys.version.split()[0]}; files in {folder}")
    results = []
    for name, as_list in (("big.jsonl", False), ("big.json", True)):
        path = folder / name
        start = time.perf_counter()
        rows = make_rows(size, path, as_list)
        print(f"generated {name}: {path.stat().st_size / (1 << 30):.2f} GiB, {rows:,} rows "
              f"in {time.perf_counter() - start:.0f} s")
        figures = {kind: probe(kind, path) for kind in ("preview", "read once", "parse all")}
        results.append((name, figures))
        if not args.keep:
            path.unlink()
    print(f"\n{'file':<11}{'measure':<12}{'seconds':>10}{'peak RSS MiB':>14}{'preview is faster by':>22}")
    for name, figures in results:
        first = figures["preview"][0]
        for kind, (secs, rss) in figures.items():
            ratio = "" if kind == "preview" else f"{secs / first:,.0f}×"
            print(f"{name:<11}{kind:<12}{secs:>10.3f}{rss:>14.0f}{ratio:>22}")
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    from chart import bars

    bars("data_preview", f"First page of a {args.gb:g} GiB file vs reading / parsing all of it", "s",
         [(f"{name} {kind}", secs) for name, figures in results for kind, (secs, _) in figures.items()])
    inspect_figures(folder, args.model)
    if not args.keep:
        for leftover in folder.iterdir():
            leftover.unlink()
        folder.rmdir()


def inspect_figures(folder: Path, model: Path) -> None:
    """The full report pass (read, convert, quality, batched token lengths) on 50,000 alpaca rows."""
    sys.path.insert(0, str(ROOT))
    from studio.data.registry import register
    from studio.encode import lengths

    path = folder / "inspect.jsonl"
    rows = make_rows(1 << 40, path, as_list=False, max_rows=50_000)
    register(folder / "dataset_info.json", "bench", {"file_name": path.name})
    if not model.exists():
        print(f"\n(no model at {model}: run `python -m studio demo` for the token-length figure)")
        model = None
    start = time.perf_counter()
    report = lengths.inspect_dataset(folder, "bench", model)
    took = time.perf_counter() - start
    print(f"\ninspect of {rows:,} rows ({path.stat().st_size / (1 << 20):.0f} MiB) with the demo tokenizer: "
          f"{took:.1f} s, {rows / took:,.0f} rows/s; kept {report.kept:,}, duplicates "
          f"{report.quality['duplicate']['count']}, suggested cutoff {report.suggested_cutoff}")


if __name__ == "__main__":
    main()
