"""GGUF export cost: time, peak memory and file size of f16 and q8_0 beside the merged safetensors export.

    python bench/gguf_export.py [--rounds 2] [--model-100m PATH] [--no-bf16] [--results DIR]

Model folders: the demo model (studio.train.demo.create_model: a 0.6M-parameter Llama, its own tokenizer), a
~100M-parameter Llama built like train_throughput.py's bench model (the demo tokenizer, random weights: export cost
does not depend on what the weights know; hidden 768, 16 layers, 12 heads / 4 KV heads, tied head; fp32
safetensors, ~400 MB) and, unless --no-bf16, the same model stored in bf16 as most released models are (the merged
export loads it in fp32 and casts it back; GGUF converts it tensor by tensor). Each is exported three ways from a
plain folder (ChatTarget with no adapter):
(a) the merged safetensors export, studio.serve.export.export (it loads the whole model, then saves it): the
baseline; (b) GGUF f16 and (c) GGUF q8_0, studio.serve.gguf.export_gguf (tensors read from safetensors, converted
and written one at a time). Every export runs in a fresh child process that first imports transformers and peft
(hf.ready, what both exports need) and notes its RSS there ("imports"); its figures are the seconds of the export
call itself and the process's peak RSS (VmHWM, which counts the mmapped safetensors pages it touched), and the
peak above the imports. Configurations alternate over --rounds (order rotated), the best (fastest) round counts,
peak RSS is the highest round's. Also the size of the weights each export writes, and the model's own size
(parameters x 4 bytes): a streamed export should peak near one copy of the source, not two.
Figures, not pass/fail: read the ratios to the baseline, taken in the same run.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

CONFIGS = ("merged safetensors (baseline)", "GGUF f16", "GGUF q8_0")
KIND = {"merged safetensors (baseline)": "merged", "GGUF f16": "f16", "GGUF q8_0": "q8_0"}


def _status_kib(field: str) -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    return 0


def child(kind: str, model: str, out: str) -> None:
    """One export in this fresh process; prints one JSON line: seconds, RSS after imports, peak RSS (KiB)."""
    from studio.core import hf

    hf.ready(with_peft=True)  # both exports import these first: the same floor on every side
    import safetensors  # noqa: F401

    if kind != "merged":
        import gguf  # noqa: F401
    floor, floor_anon = _status_kib("VmRSS"), _status_kib("RssAnon")
    import threading

    from studio.serve.targets import ChatTarget

    peak_anon, stop = [floor_anon], threading.Event()

    def sample() -> None:  # RssAnon has no high-water mark of its own: sampled every 2 ms
        while not stop.is_set():
            peak_anon[0] = max(peak_anon[0], _status_kib("RssAnon"))
            stop.wait(0.002)

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()

    target = ChatTarget(base=model, adapter=None, template="chatml", tokenizer=model)
    started = time.perf_counter()
    if kind == "merged":
        from studio.serve.export import export

        export(target, Path(out), merge=True, overwrite=True)
        weights = sorted(Path(out).glob("*.safetensors"))
    else:
        from studio.serve.gguf import export_gguf

        done = export_gguf(target, Path(out), kind, overwrite=True)
        weights = [done.out / done.gguf_file]
    seconds = time.perf_counter() - started
    stop.set()
    sampler.join()
    print(json.dumps({"seconds": seconds, "floor_kib": floor, "peak_kib": _status_kib("VmHWM"),
                      "anon_above_kib": peak_anon[0] - floor_anon,
                      "out_bytes": sum(p.stat().st_size for p in weights)}))


def run_child(kind: str, model: Path, out: Path) -> dict[str, float]:
    env = {**os.environ, "HF_HUB_OFFLINE": "1",
           "PYTHONPATH": os.pathsep.join(p for p in (str(ROOT), os.environ.get("PYTHONPATH", "")) if p)}
    done = subprocess.run([sys.executable, __file__, "--child", kind, str(model), str(out)], capture_output=True,
                          text=True, env=env, cwd=ROOT)
    if done.returncode:
        raise SystemExit(f"{kind} export of {model} failed:\n{done.stderr[-3000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def demo_model(folder: Path) -> Path:
    from studio.train.demo import create_model

    if not (folder / "model.safetensors").exists():
        create_model(folder)
    return folder


def model_100m(folder: Path, demo: Path, bf16: bool = False) -> Path:
    """The demo tokenizer with a ~100M-parameter Llama of random weights (as train_throughput.bench_model); stored
    in bf16 with `bf16`, as most released models are."""
    import torch
    from transformers import LlamaConfig, LlamaForCausalLM

    from studio.model.info import load_tokenizer

    if (folder / "model.safetensors").exists() or (folder / "model.safetensors.index.json").exists():
        return folder
    tok = load_tokenizer(demo)
    config = LlamaConfig(vocab_size=len(tok), hidden_size=768, intermediate_size=2048, num_hidden_layers=16,
                         num_attention_heads=12, num_key_value_heads=4, max_position_embeddings=2048,
                         tie_word_embeddings=True, eos_token_id=tok.convert_tokens_to_ids("<|im_end|>"),
                         pad_token_id=tok.convert_tokens_to_ids("<|endoftext|>"), bos_token_id=None)
    torch.manual_seed(0)
    model = LlamaForCausalLM(config)
    if bf16:
        model = model.to(torch.bfloat16)
    model.save_pretrained(folder, safe_serialization=True)
    tok.save_pretrained(folder)
    return folder


def n_params(folder: Path) -> int:
    import math

    from studio.model.info import tensor_shapes

    return sum(math.prod(shape) for shape in tensor_shapes(folder).values())


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--model-100m", default="", help="reuse this ~100M folder (made here when missing)")
    parser.add_argument("--no-bf16", action="store_true", help="skip the bf16-stored copy of the ~100M model")
    parser.add_argument("--results", default=str(ROOT / "bench" / "results"))
    parser.add_argument("--child", nargs=3, metavar=("KIND", "MODEL", "OUT"))
    args = parser.parse_args()
    if args.child:
        child(*args.child)
        return
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    import torch

    torch.set_num_threads(1)  # models are built here: torch's spinning threads, with anything else on this 2-core
    # machine, made create_model ~25x slower (320 s instead of 12); the exports' own processes keep the default
    tmp = Path(tempfile.mkdtemp(prefix="gguf_export_"))
    try:
        demo = demo_model(tmp / "demo")
        big = model_100m(Path(args.model_100m) if args.model_100m else tmp / "llama-100m", demo)
        models = {"demo (0.6M)": demo, "Llama ~100M": big}
        if not args.no_bf16:
            models["~100M, bf16"] = model_100m(tmp / "llama-100m-bf16", demo, bf16=True)
        sizes = {name: n_params(folder) for name, folder in models.items()}
        for name, folder in models.items():
            source = sum(p.stat().st_size for p in folder.glob("*.safetensors"))
            print(f"model {name}: {sizes[name] / 1e6:.1f}M parameters, x 4 bytes = {sizes[name] * 4 / 2**20:.1f} MiB "
                  f"(safetensors on disk {source / 2**20:.1f} MiB)", flush=True)
        results: dict[tuple[str, str], list[dict[str, float]]] = {}
        for name, folder in models.items():
            for round_ in range(args.rounds):  # alternate: each round runs every configuration, order rotated
                order = CONFIGS[round_ % len(CONFIGS):] + CONFIGS[:round_ % len(CONFIGS)]
                for config in order:
                    out = tmp / "out" / f"{KIND[config]}"
                    got = run_child(KIND[config], folder, out)
                    shutil.rmtree(out, ignore_errors=True)
                    results.setdefault((name, config), []).append(got)
                    print(f"  round {round_ + 1}: {name:12s} {config:30s} {got['seconds']:7.2f} s, peak RSS "
                          f"{got['peak_kib'] / 1024:6.0f} MiB (imports {got['floor_kib'] / 1024:.0f} MiB)", flush=True)
        table = []
        print(f"\n{'model':12s} {'configuration':30s} {'seconds':>8s} {'x base':>7s} {'peak RSS':>9s} {'x base':>7s} "
              f"{'above imports':>14s} {'x model':>8s} {'anon above':>11s} {'x model':>8s} {'output':>9s}")
        for name in models:
            model_mib = sizes[name] * 4 / 2**20
            runs = {c: results[(name, c)] for c in CONFIGS}
            best = {c: min(runs[c], key=lambda r: r["seconds"]) for c in CONFIGS}
            peak = {c: max(r["peak_kib"] for r in runs[c]) / 1024 for c in CONFIGS}
            above = {c: max(r["peak_kib"] - r["floor_kib"] for r in runs[c]) / 1024 for c in CONFIGS}
            anon = {c: max(r["anon_above_kib"] for r in runs[c]) / 1024 for c in CONFIGS}
            base = CONFIGS[0]
            for c in CONFIGS:
                row = {"model": name, "configuration": c, "seconds": best[c]["seconds"],
                       "x_seconds": best[c]["seconds"] / best[base]["seconds"], "peak_rss_mib": peak[c],
                       "x_rss": peak[c] / peak[base], "above_imports_mib": above[c],
                       "above_imports_x_model": above[c] / model_mib, "anon_above_imports_mib": anon[c],
                       "anon_x_model": anon[c] / model_mib, "output_mib": best[c]["out_bytes"] / 2**20,
                       "model_params": sizes[name], "model_fp32_mib": model_mib}
                table.append(row)
                print(f"{name:12s} {c:30s} {row['seconds']:8.2f} {row['x_seconds']:7.2f} {peak[c]:7.0f}Mi "
                      f"{row['x_rss']:7.2f} {above[c]:12.0f}Mi {row['above_imports_x_model']:8.2f} "
                      f"{anon[c]:9.0f}Mi {row['anon_x_model']:8.2f} {row['output_mib']:7.1f}Mi")
            print(f"{'':12s} {'(model: params x 4 bytes)':30s} {'':8s} {'':7s} {'':9s} {'':7s} {model_mib:12.0f}Mi "
                  f"{1.0:8.2f}")
        print(f"\nseconds: best of {args.rounds} rounds, the export call alone, in a fresh process after importing "
              f"transformers + peft. peak RSS: the process's VmHWM (highest round), which counts the mmapped "
              f"safetensors pages it touched; 'above imports': that peak minus the RSS after the imports; 'anon "
              f"above': the peak of RssAnon (sampled every 2 ms) above the imports: memory of its own, not the page "
              f"cache's; 'x model': over parameters x 4 bytes; output: the weights written (safetensors or .gguf)")
        results_dir = Path(args.results)
        results_dir.mkdir(parents=True, exist_ok=True)
        (results_dir / "gguf_export.json").write_text(json.dumps({"rounds": args.rounds, "rows": table,
                                                                  "raw": {f"{m} | {c}": v for (m, c), v in
                                                                          results.items()}}, indent=1))
        print(f"written {results_dir / 'gguf_export.json'}")
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
