"""Chat latency on the demo model: load time, time to first token, decode tokens/s, memory of the chat process.

Run: python bench/chat_latency.py [--rounds 5]   (prints a table; nothing is pass/fail)
It creates a workspace with the demo model, trains a short LoRA run through the CLI, then measures in a fresh
child process (so its memory is the chat's own). Baseline, same process and prompt: a bare `model.generate`
with max_new_tokens=1 on the same PeftModel (the least any first token can cost), and the same for decoding.
"""

from __future__ import annotations

import argparse
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
ENV = {**os.environ, "HF_HUB_OFFLINE": "1", "PYTHONPATH": str(ROOT)}
PROMPTS = ["你是谁？", "who are you?", "What can you do?", "天空是什么颜色？", "Say hello."]


def _rss_mib() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


def child(ws_dir: str, rounds: int) -> None:
    import torch

    from studio.core.workspace import Workspace
    from studio.serve import chat
    from studio.serve import targets as chat_targets

    ws = Workspace.at(ws_dir)
    started = time.perf_counter()
    from studio.core import hf

    hf.ready(with_peft=True)  # what the first Load in a fresh server pays once
    import_s = time.perf_counter() - started
    rss0 = _rss_mib()
    started = time.perf_counter()
    cm = chat.load(chat_targets.run_target(ws, "bench"))
    load_s = time.perf_counter() - started
    rss_loaded = _rss_mib()
    settings = chat.GenSettings(max_new_tokens=64)
    chat.reply(cm, [{"role": "user", "content": "hi"}], settings)  # warm-up: first-call kernels and caches
    ttft, tps, base_ttft, bare_first, bare_tps = [], [], [], [], []
    tok = cm.tokenizer
    for i in range(rounds):
        prompt = [{"role": "user", "content": PROMPTS[i % len(PROMPTS)]}]
        st = chat.ReplyStats()
        chat.reply(cm, prompt, settings, stats=st)
        ttft.append(st.first_token_s)
        if st.tokens > 1:
            tps.append(st.tokens_per_s)
        sb = chat.ReplyStats()
        chat.reply(cm, prompt, settings, side="base", stats=sb)
        base_ttft.append(sb.first_token_s)
        ids = torch.tensor([tok.apply_chat_template(prompt, add_generation_prompt=True, tokenize=True,
                                                    return_dict=True)["input_ids"]])
        with torch.inference_mode():
            t0 = time.perf_counter()
            cm.model.generate(input_ids=ids, max_new_tokens=1, do_sample=False, pad_token_id=tok.pad_token_id)
            bare_first.append(time.perf_counter() - t0)
            t0 = time.perf_counter()
            out = cm.model.generate(input_ids=ids, max_new_tokens=64, min_new_tokens=64, do_sample=False,
                                    pad_token_id=tok.pad_token_id)
            bare_tps.append((out.shape[1] - ids.shape[1]) / (time.perf_counter() - t0))
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    chat.unload()
    med = statistics.median
    print(f"{'measure':52s} {'value':>10s} {'baseline':>10s} {'ratio':>7s}")
    print(f"{'first import of torch + transformers + peft, s':52s} {import_s:10.3f}")
    print(f"{'load (tokenizer + weights + adapter), s':52s} {load_s:10.3f}")
    print(f"{'time to first token, streamed, s (median)':52s} {med(ttft):10.3f} {med(bare_first):10.3f} "
          f"{med(ttft) / med(bare_first):7.2f}")
    print(f"{'time to first token, base side of Compare, s':52s} {med(base_ttft):10.3f}")
    if tps:
        print(f"{'decode tokens/s, streamed (median)':52s} {med(tps):10.0f} {med(bare_tps):10.0f} "
              f"{med(tps) / med(bare_tps):7.2f}")
    print(f"{'RSS after imports / loaded / peak, MiB':52s} {rss0:.0f} / {rss_loaded:.0f} / {peak:.0f}")
    print(f"{'RSS after unload, MiB':52s} {_rss_mib():10.0f}")
    sys.path.insert(0, str(ROOT / "bench"))
    from chart import bars

    bars("chat_latency", "Chat on the demo model (CPU): time to first token", "s",
         [("bare generate, 1 token (baseline)", med(bare_first)), ("streamed, tuned", med(ttft)),
          ("streamed, base side of Compare", med(base_ttft))], baseline="bare generate, 1 token (baseline)")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--child", default="")
    args = parser.parse_args()
    if args.child:
        child(args.child, args.rounds)
        return
    with tempfile.TemporaryDirectory() as tmp:
        ws = Path(tmp) / "ws"
        cfg = Path(tmp) / "bench.yaml"
        cfg.write_text("run_name: bench\nmax_steps: 120\nworst_rows: 0\n")
        for argv in (["demo"], ["train", str(cfg), "--preset", "demo"]):
            subprocess.run([sys.executable, "-m", "studio", "--workspace", str(ws), *argv], cwd=ROOT, env=ENV,
                           check=True, capture_output=True)
        subprocess.run([sys.executable, __file__, "--child", str(ws), "--rounds", str(args.rounds)], cwd=ROOT,
                       env=ENV, check=True)


if __name__ == "__main__":
    main()
