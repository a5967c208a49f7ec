"""The vision path end to end on the demo: a tiny Qwen2-VL learns to name colours it sees, chats about a
picture, exports to a folder that reloads; image datasets are refused where they cannot work."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

from PIL import Image

from studio.core.workspace import DEMO_MODEL, Workspace
from studio.train.demo_vision import COLORS, colour_rows
from tests.integration.helpers import cli

QUESTION = "What colour is the shape?"


def _held_out(folder: Path) -> list[tuple[Path, str, str]]:
    """20 pictures the run never saw (another seed), with their colour in English and Chinese."""
    rows = colour_rows(folder, "held", 20, seed=999)
    names = {en: zh for en, _, zh in COLORS}
    return [(folder / Path(r["images"][0]).name, r["colour"], names[r["colour"]]) for r in rows]


def test_demo_vision_preset_learns_to_name_colours_it_sees(vision_ws: Workspace, tmp_path: Path) -> None:
    ws = vision_ws
    (ws.root / "mine.yaml").write_text("run_name: colours\n", encoding="utf-8")
    result = cli("--workspace", str(ws.root), "train", "mine.yaml", "--preset", "demo-vision")
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    run_dir = ws.runs_dir / "colours"
    status = json.loads((run_dir / "status.json").read_text())
    assert status["state"] == "finished"
    log = (run_dir / "train.log").read_text()
    assert "vision tower frozen, projector frozen" in log and "240 rows" in log
    metrics = [json.loads(line) for line in (run_dir / "metrics.jsonl").read_text().splitlines()]
    evals = [m["eval_loss"] for m in metrics if "eval_loss" in m]
    assert evals[-1] < 0.6 * evals[0], evals
    worst = [json.loads(line) for line in (run_dir / "worst_rows.jsonl").read_text().splitlines()]
    assert worst and all(len(w["images"]) == 1 and Path(w["images"][0]).is_file() for w in worst)
    assert "[image ×9]" in worst[0]["text"]  # 84×84 pixels: 6×6 patches, merged 2×2
    assert (run_dir / "adapter" / "preprocessor_config.json").exists()

    from studio.serve import chat
    from studio.serve import targets as chat_targets

    held = _held_out(tmp_path / "held")
    blank = tmp_path / "blank.png"
    Image.new("RGB", (84, 84), (235, 235, 235)).save(blank)
    cm = chat.load(chat_targets.run_target(ws, "colours"))
    greedy = chat.GenSettings(temperature=0.0, max_new_tokens=12)

    def named(side: str, picture: Path | None) -> int:
        hits = 0
        for i, (path, en, zh) in enumerate(held):
            question = QUESTION if i % 2 else "这个图形是什么颜色？"
            text = chat.reply(cm, [{"role": "user", "content": question, "images": [picture or path]}], greedy,
                              side=side)
            hits += en in text or zh in text
        return hits

    tuned = named("tuned", None)
    assert tuned >= 16, f"tuned model named {tuned} of 20 colours"
    assert named("base", None) <= 8  # the base can see but was never taught the names
    assert named("tuned", blank) <= 8  # the answer comes from the picture, not from the question

    # the Evaluate job on the run's held-out pictures: the batches carry their pixels; tuned beats base
    done = cli("--workspace", str(ws.root), "eval", "--run", "colours", "--max-new-tokens", "12", "--name", "seen")
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    scores = json.loads((ws.runs_dir / "seen" / "scores.json").read_text())["scores"]
    assert scores["final"]["exact_match"] >= 60 > scores["base"]["exact_match"], scores

    out = tmp_path / "merged"
    exported = cli("--workspace", str(ws.root), "export", "--run", "colours", "--out", str(out), "--merge")
    assert exported.returncode == 0, exported.stderr[-2000:]
    assert {"preprocessor_config.json", "chat_template.jinja", "model.safetensors"} <= {p.name for p in out.iterdir()}
    assert "image_url" in exported.stdout and "base64" in exported.stdout
    for path, _, _ in held[:3]:
        mine = cli("--workspace", str(ws.root), "chat", "--run", "colours", "--prompt", QUESTION, "--image", str(path),
                   "--temperature", "0")
        theirs = cli("--workspace", str(ws.root), "chat", "--model", str(out), "--template", "qwen2_vl",
                     "--prompt", QUESTION, "--image", str(path), "--temperature", "0")
        assert mine.returncode == 0 and mine.stdout == theirs.stdout, mine.stderr[-1500:] + theirs.stderr[-1500:]


def test_encode_cli_writes_image_grids(vision_ws: Workspace, tmp_path: Path) -> None:
    out = tmp_path / "rows.jsonl"
    result = cli("--workspace", str(vision_ws.root), "data", "encode", "--dataset", "demo_colors", "--model",
                 "models/demo-vl", "--out", str(out))
    assert result.returncode == 0, result.stderr[-2000:]
    rows = [json.loads(line) for line in out.read_text().splitlines()]
    assert len(rows) == 240 and rows[0]["image_grid_thw"] == [[1, 6, 6]]
    assert json.loads(result.stderr.strip().splitlines()[-1])["template"] == "qwen2_vl"


def test_image_dataset_refused_for_text_model_and_for_packing(vision_ws: Workspace, demo_model: Path) -> None:
    ws = vision_ws
    shutil.copytree(demo_model, ws.root / DEMO_MODEL)
    (ws.root / "text.yaml").write_text("model_name_or_path: models/demo-tiny\ndataset: demo_colors\n")
    said = cli("--workspace", str(ws.root), "validate", "text.yaml")
    assert said.returncode == 2 and "qwen2_vl" in said.stdout + said.stderr
    (ws.root / "packed.yaml").write_text("packing: true\n")
    said = cli("--workspace", str(ws.root), "validate", "packed.yaml", "--preset", "demo-vision")
    assert said.returncode == 2 and "packing" in said.stdout + said.stderr and "group_by_length" in said.stdout + said.stderr


def test_kill_9_on_the_vision_demo_resumes_to_the_uninterrupted_losses(vision_ws: Workspace) -> None:
    """Images, their order and the adapter's state come back after kill -9, not just the weights."""
    import os
    import signal
    import time

    from studio.core import presets
    from studio.core.rundir import read_metrics
    from studio.runs import manage as runs
    from tests.integration.helpers import wait_for

    short = {"max_steps": 24, "logging_steps": 1, "save_steps": 5, "save_total_limit": 3, "eval_steps": 12,
             "worst_rows": 0}

    def losses(run_dir: Path) -> dict[tuple[str, int], float]:
        return {(k, m["step"]): m[k] for m in read_metrics(run_dir)[0] for k in ("loss", "eval_loss") if k in m}

    def finish(run_dir: Path) -> str:
        assert wait_for(lambda: runs.run_status(run_dir)["state"] not in ("queued", "running"), timeout=180)
        return runs.run_status(run_dir)["state"]

    cfg, _ = presets.from_preset("demo-vision", {**short, "run_name": "whole"})
    whole = runs.start(vision_ws, cfg, "demo-vision")
    assert finish(whole) == "finished"
    cfg, _ = presets.from_preset("demo-vision", {**short, "run_name": "cut"})
    cut = runs.start(vision_ws, cfg, "demo-vision")
    assert wait_for(lambda: max((s for _, s in losses(cut)), default=0) >= 13, timeout=120, every=0.01)
    os.killpg(runs.run_status(cut)["pid"], signal.SIGKILL)
    assert wait_for(lambda: runs.run_status(cut)["state"] == "failed", timeout=3)
    time.sleep(0.2)
    runs.resume(vision_ws, "cut")
    assert finish(cut) == "finished"
    assert [m["step"] for m in read_metrics(cut)[0] if "loss" in m] == list(range(1, 25))
    expected, got = losses(whole), losses(cut)
    assert got.keys() == expected.keys()
    worst = max(abs(expected[k] - got[k]) for k in expected)
    assert worst < 1e-4, f"largest loss difference {worst:.2e}"
