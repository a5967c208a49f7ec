"""Figures for the walking skeleton: UI cold start, demo creation, demo run, chat latency.

Run: python bench/skeleton.py   (prints a table; nothing is pass/fail)
The baseline, measured in the same run, is the time to import torch + transformers: what the
server would pay at start-up if it imported them eagerly.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
ENV = {**os.environ, "GRADIO_ANALYTICS_ENABLED": "False", "HF_HUB_OFFLINE": "1", "PYTHONPATH": str(ROOT)}


def timed(argv: list[str]) -> float:
    start = time.perf_counter()
    subprocess.run(argv, cwd=ROOT, env=ENV, check=True, capture_output=True)
    return time.perf_counter() - start


def cold_start(ws: Path) -> float:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    start = time.perf_counter()
    proc = subprocess.Popen([sys.executable, "app.py", "--workspace", str(ws), "--port", str(port)], cwd=ROOT,
                            env=ENV, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        while True:
            try:
                urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=1)
                return time.perf_counter() - start
            except OSError:
                time.sleep(0.05)
    finally:
        proc.terminate()
        proc.wait()


def main() -> None:
    rows: list[tuple[str, float, str]] = []
    tmp = Path(tempfile.mkdtemp())
    baseline = timed([sys.executable, "-c", "import torch, transformers, peft"])
    rows.append(("import torch+transformers+peft (baseline)", baseline, "1.00"))
    ws = tmp / "ws"
    demo = timed([sys.executable, "-m", "studio", "--workspace", str(ws), "demo"])
    rows.append(("demo model + dataset creation", demo, f"{demo / baseline:.2f}"))
    start = cold_start(ws)
    rows.append(("UI cold start to first served page", start, f"{start / baseline:.2f}"))
    cfg = tmp / "c.yaml"
    cfg.write_text("{}\n")
    run = timed([sys.executable, "-m", "studio", "--workspace", str(ws), "train", str(cfg), "--preset", "demo"])
    rows.append(("demo preset run, wall (540 steps)", run, f"{run / baseline:.2f}"))

    import json

    run_dir = next((ws / "runs").iterdir())
    metrics = [json.loads(x) for x in (run_dir / "metrics.jsonl").read_text().splitlines()]
    from studio.core.workspace import Workspace
    from studio.serve import chat
    from studio.serve import targets as chat_targets

    cm = chat.load(chat_targets.run_target(Workspace.at(ws), run_dir.name))
    stats = chat.ReplyStats()
    for _ in chat.stream_reply(cm, [{"role": "user", "content": "who are you?"}], chat.GenSettings(), stats=stats):
        pass
    print(f"{'measure':45s} {'seconds':>9s} {'x baseline':>10s}")
    for name, value, ratio in rows:
        print(f"{name:45s} {value:9.2f} {ratio:>10s}")
    print(f"{'train compute (elapsed_s in metrics)':45s} {metrics[-1]['elapsed_s']:9.2f}")
    metrics = [m for m in metrics if "tokens_per_s" in m]  # eval lines carry no throughput
    tps = sum(m["tokens_per_s"] for m in metrics) / len(metrics)
    print(f"training tokens/s (mean of log windows): {tps:.0f}; loss {metrics[0]['loss']:.3f} -> {metrics[-1]['loss']:.3f}")
    print(f"chat: first token {stats.first_token_s * 1000:.0f} ms, {stats.tokens_per_s:.0f} tokens/s")
    sys.path.insert(0, str(ROOT / "bench"))
    from chart import bars

    bars("skeleton", "Start-up and the demo, wall time", "s", [(n, v) for n, v, _ in rows], baseline=rows[0][0])
    shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
