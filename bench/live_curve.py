"""Live-curve latency: a metrics line written by a real worker -> its loss visible in a real browser's Runs tab.

    python bench/live_curve.py [--lines 8]

A demo run logs one line every 40 steps (about every second here). This script watches metrics.jsonl; when a
line lands it notes the time and the loss, and Chromium (driven by Playwright, the page open on the Runs tab)
waits for the runs table to show that loss — the same refresh also redraws the charts. Baseline in the same
run: the Runs tab's refresh period (1 s), the floor a polling page cannot beat on average (half of it).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
ENV = {**os.environ, "HF_HUB_OFFLINE": "1", "GRADIO_ANALYTICS_ENABLED": "False", "PYTHONPATH": str(ROOT)}
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
        "--disable-background-networking", "--disable-component-update", "--disable-sync"]


def _port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--lines", type=int, default=8)
    args = parser.parse_args()
    from playwright.sync_api import sync_playwright

    from studio.ui.runs_tab import REFRESH_S

    tmp = Path(tempfile.mkdtemp())
    ws = tmp / "ws"
    subprocess.run([sys.executable, "-m", "studio", "--workspace", str(ws), "demo"], env=ENV, cwd=ROOT, check=True,
                   capture_output=True)
    port = _port()
    server = subprocess.Popen([sys.executable, "app.py", "--workspace", str(ws), "--port", str(port)], cwd=ROOT,
                              env=ENV, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    cfg = tmp / "live.yaml"
    cfg.write_text("run_name: live\nlogging_steps: 40\nnum_train_epochs: 200\nsave_steps: 100000\nworst_rows: 0\n")
    metrics = ws / "runs" / "live" / "metrics.jsonl"
    delays: list[float] = []
    try:
        while True:
            try:
                urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=1)
                break
            except OSError:
                time.sleep(0.1)
        subprocess.run([sys.executable, "-m", "studio", "--workspace", str(ws), "train", str(cfg), "--preset",
                        "demo", "--detach"], env=ENV, cwd=ROOT, check=True, capture_output=True)
        with sync_playwright() as pw:
            browser = pw.chromium.launch(executable_path=shutil.which("chromium") or "/usr/bin/chromium", args=ARGS)
            page = browser.new_page(viewport={"width": 1400, "height": 1000})
            page.goto(f"http://127.0.0.1:{port}/")
            page.get_by_role("tab", name="Runs").click()
            page.locator("#runs-table").wait_for(timeout=30_000)
            seen = metrics.stat().st_size if metrics.exists() else 0
            while len(delays) < args.lines:
                size = metrics.stat().st_size if metrics.exists() else 0
                if size <= seen:
                    time.sleep(0.002)
                    continue
                written = time.perf_counter()
                lines = metrics.read_bytes()[seen:size].decode().splitlines()
                seen = size
                losses = [json.loads(x)["loss"] for x in lines if x.strip() and '"loss"' in x]
                if not losses:
                    continue
                wanted, deadline = f"{losses[-1]:.4f}", time.perf_counter() + 30
                while wanted not in page.locator("#runs-table").inner_text() and time.perf_counter() < deadline:
                    page.wait_for_timeout(10)
                delays.append(time.perf_counter() - written)
                seen = metrics.stat().st_size  # lines that landed while we waited are not measured
            browser.close()
    finally:
        subprocess.run([sys.executable, "-m", "studio", "--workspace", str(ws), "runs", "abort", "live", "--grace",
                        "5"], env=ENV, cwd=ROOT, capture_output=True)
        server.terminate()
        server.wait()
        shutil.rmtree(tmp, ignore_errors=True)
    med = statistics.median(delays)
    print(f"{'metrics line written -> loss shown in the Runs tab':52s} {'seconds':>8s} {'x refresh':>9s}")
    print(f"{'median of ' + str(len(delays)) + ' lines':52s} {med:8.3f} {med / REFRESH_S:9.2f}")
    print(f"{'worst':52s} {max(delays):8.3f} {max(delays) / REFRESH_S:9.2f}")
    print(f"{'baseline: refresh period (mean floor = half of it)':52s} {REFRESH_S:8.3f} {1.0:9.2f}")
    sys.path.insert(0, str(ROOT / "bench"))
    from chart import bars

    bars("live_curve", "Metrics line written → loss visible in the browser", "s",
         [("refresh period (baseline)", REFRESH_S), ("median", med), ("worst", max(delays))],
         baseline="refresh period (baseline)")


if __name__ == "__main__":
    main()
