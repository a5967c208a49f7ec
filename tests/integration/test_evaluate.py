"""Evaluation jobs, real worker and real demo model: the held-out rows of a trained run, tuned vs base; the queue
behind a training run, abort and resume; rows without answers; SQL execution match on databases made here; every
refusal a sentence. Also a run continued from an earlier run's adapter."""

from __future__ import annotations

import json
import shutil
import sqlite3
from collections.abc import Iterator
from pathlib import Path

import pytest

from studio.cli.main import main
from studio.core.rundir import read_status
from studio.core.workspace import Workspace
from studio.runs import manage as runs
from studio.serve.scores import text_scores
from studio.train.demo import DEMO_MODEL, ensure_dataset

from .helpers import cli, wait_for

FIXTURES = Path(__file__).parents[1] / "fixtures"


def _ws(root: Path, demo_model: Path) -> Workspace:
    ws = Workspace.at(root / "workspace")
    ensure_dataset(ws)
    shutil.copytree(demo_model, ws.root / DEMO_MODEL)
    return ws


def _train(ws: Workspace, name: str, extra: str = "", preset: str = "demo") -> Path:
    cfg = ws.root / f"{name}.yaml"
    cfg.write_text(f"run_name: {name}\n{extra}", encoding="utf-8")
    done = cli("--workspace", str(ws.root), "train", str(cfg), "--preset", preset)
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
    return ws.runs_dir / name


@pytest.fixture(scope="module")
def trained(tmp_path_factory: pytest.TempPathFactory, demo_model: Path) -> Iterator[tuple[Workspace, Path]]:
    """A workspace with one demo run that held out 10% of its rows and ranked every row it trained on."""
    ws = _ws(tmp_path_factory.mktemp("eval"), demo_model)
    yield ws, _train(ws, "ident", "worst_rows: 1000\n")


def _eval(ws: Workspace, *args: str) -> tuple[int, str, Path | None]:
    done = cli("--workspace", str(ws.root), "eval", *args)
    jobs = sorted((p for p in ws.runs_dir.iterdir() if p.name.startswith(("2", "job"))),
                  key=lambda p: p.stat().st_mtime)
    return done.returncode, done.stdout + done.stderr, jobs[-1] if jobs else None


def _lines(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


def test_heldout_tuned_beats_base(trained: tuple[Workspace, Path]) -> None:
    ws, run = trained
    code, out, job = _eval(ws, "--run", "ident", "--weights", "checkpoint-480,final", "--name", "job-heldout")
    assert code == 0, out
    log = (job / "eval.log").read_text(encoding="utf-8")
    assert "checkpoint-480: the same weights as final" in log  # the last checkpoint is the final adapter
    assert "exact_match" in out and "difference" in out  # the table printed at the end
    scores = json.loads((job / "scores.json").read_text(encoding="utf-8"))
    base, final = scores["scores"]["base"], scores["scores"]["final"]
    assert final["exact_match"] > base["exact_match"], (base, final)
    assert final["eval_loss"] < base["eval_loss"] and final["perplexity"] < base["perplexity"]
    # exactly the rows the run never trained on: its 21 held-out rows, none of the 191 it ranked after training
    lines = _lines(job / "predictions.jsonl")
    held = {d["source"] for d in lines}
    trained_on = {r["source"] for r in _lines(run / "worst_rows.jsonl")}
    assert len(held) == 21 and len(trained_on) == 191 and not held & trained_on
    # LLaMA-Factory's file, and per-row scores that are the score functions' on exactly these strings
    lf = _lines(job / "generated_predictions.jsonl")
    assert len(lf) == 21 and set(lf[0]) == {"prompt", "predict", "label"} and "<|im_start|>" in lf[0]["prompt"]
    tuned = sorted((d for d in lines if d["target"] == "final"), key=lambda d: d["index"])
    assert [text_scores(d["predict"], row["label"])["bleu-4"] for d, row in zip(tuned, lf, strict=True)] == [
        d["scores"]["bleu-4"] for d in tuned]
    assert log.count("answers in") == 2 and scores["scores"]["checkpoint-480"]["bleu-4"] == final["bleu-4"]
    assert scores["targets"] == ["base", "final", "checkpoint-480"] and len(lines) == 63
    assert read_status(job)["state"] == "finished" and read_status(job)["peak_rss_mb"] > 0
    shown = cli("--workspace", str(ws.root), "eval", "--show", "job-heldout", "--sort", "better", "--rows", "3")
    assert shown.returncode == 0 and "tuned" in shown.stdout and "reference" in shown.stdout


def test_refusals_are_sentences(trained: tuple[Workspace, Path], capsys: pytest.CaptureFixture[str]) -> None:
    ws, _ = trained
    _train(ws, "noval", "val_size: 0\nmax_steps: 2\nworst_rows: 0\n")
    cases = [
        (("--run", "noval"), "held out no rows (val_size 0)"),
        (("--run", "../ident"), "'../ident'"),
        (("--run", "ident", "--weights", "checkpoint-7"), "has no checkpoint-7"),
        (("--run", "ident", "--sql-db-dir", "/etc"), "outside the workspace"),
        (("--model", DEMO_MODEL), "choose a dataset to evaluate on"),
        (("--run", "ident", "--dataset", "nope"), "'nope' is not registered"),
    ]
    for args, expected in cases:  # the command in this process: the same code path, without the start-up cost
        code = main(["--workspace", str(ws.root), "eval", *args])
        out = capsys.readouterr()
        assert code == 2 and expected in out.err and not out.out.strip(), (args, out)


def _register(ws: Workspace, name: str, file: str, rows: list[dict], extra: dict | None = None) -> None:
    (ws.data_dir / file).write_text("\n".join(json.dumps(r, ensure_ascii=False) for r in rows) + "\n",
                                    encoding="utf-8")
    registry = json.loads(ws.registry_file.read_text(encoding="utf-8"))
    registry[name] = {"file_name": file, **(extra or {})}
    ws.registry_file.write_text(json.dumps(registry, ensure_ascii=False), encoding="utf-8")


def test_rows_without_answers_get_predictions_only(trained: tuple[Workspace, Path]) -> None:
    ws, _ = trained
    _register(ws, "questions", "questions.jsonl", [{"instruction": "Who are you?"}, {"instruction": "你是谁？",
                                                                                      "output": ""}])
    code, out, job = _eval(ws, "--run", "ident", "--dataset", "questions", "--no-base", "--name", "job-questions")
    assert code == 0, out
    scores = json.loads((job / "scores.json").read_text(encoding="utf-8"))
    assert "only predictions are made" in scores["offered"]["text"]["why"]
    assert "bleu-4" not in scores["scores"]["final"] and scores["scores"]["final"]["rows"] == 2
    answers = [d["predict"] for d in _lines(job / "predictions.jsonl")]
    assert len(answers) == 2 and all(a.strip() for a in answers)


def _database(folder: Path, db_id: str) -> None:
    (folder / db_id).mkdir(parents=True)
    con = sqlite3.connect(folder / db_id / f"{db_id}.sqlite")
    con.execute("CREATE TABLE schools (School TEXT, County TEXT, City TEXT, Enrollment INT, Charter INT, Phone TEXT)")
    con.executemany("INSERT INTO schools VALUES (?, ?, ?, ?, ?, ?)",
                    [("A", "Alameda", "Oakland", 900, 0, "1"), ("B", "Alameda", "Fresno", 300, 1, "2")])
    con.commit()
    con.close()


def test_sql_execution_match(trained: tuple[Workspace, Path]) -> None:
    """The seed's BIRD-style rows: one database present, one missing (counted per db_id), one empty reference."""
    ws, _ = trained
    _database(ws.root / "sqlite", "california_schools")
    rows = [json.loads(line) for line in (FIXTURES / "text2sql.jsonl").read_text(encoding="utf-8").splitlines()]
    _register(ws, "bird", "bird.jsonl", rows, {"columns": {"prompt": "question", "query": "evidence",
                                                           "response": "SQL"}})
    code, out, job = _eval(ws, "--run", "ident", "--dataset", "bird", "--no-base", "--sql-db-dir", "sqlite",
                           "--max-new-tokens", "16", "--name", "job-sql")
    assert code == 0, out
    scores = json.loads((job / "scores.json").read_text(encoding="utf-8"))
    assert scores["offered"]["sql"]["on"] and "rows carry a db_id" in scores["offered"]["sql"]["why"]
    sql = scores["scores"]["final"]["sql"]
    assert sql["missing_dbs"] == {"financial": 2}  # the row with an empty reference is predicted, not scored
    assert sql["kinds"]["missing_db"] == 2 and sql["scored_rows"] == 2
    assert sum(sql["kinds"].values()) == 4


def test_queue_abort_resume(tmp_path: Path, demo_model: Path) -> None:
    """An eval started while its run trains waits in the queue; aborted, it keeps its answers; resumed, it writes
    only the rest, each once."""
    ws = _ws(tmp_path, demo_model)
    cfg = ws.root / "slow.yaml"
    cfg.write_text("run_name: slow\nmax_steps: 400\nworst_rows: 0\n", encoding="utf-8")  # still training when the eval comes
    started = cli("--workspace", str(ws.root), "train", str(cfg), "--preset", "demo", "--detach")
    assert started.returncode == 0, started.stderr
    code, out, job = _eval(ws, "--run", "slow", "--dataset", "demo_identity", "--max-samples", "120",
                           "--batch-size", "1", "--max-new-tokens", "48", "--name", "job-slow", "--detach")
    assert code == 0 and "waits in the queue" in out, out
    assert read_status(job)["state"] == "queued"
    assert wait_for(lambda: read_status(job).get("state") == "running" and (read_status(job).get("step") or 0) >= 20,
                    timeout=180), read_status(job)
    runs.abort(ws, "job-slow", grace_s=30, wait=True)  # what `runs abort` calls, at once (the job is quick)
    assert read_status(job)["state"] == "aborted", read_status(job)
    kept = len(_lines(job / "predictions.jsonl"))
    assert 0 < kept < 240 and not (job / "scores.json").exists()
    resumed = cli("--workspace", str(ws.root), "runs", "resume", "job-slow")
    assert resumed.returncode == 0, resumed.stderr
    assert wait_for(lambda: read_status(job).get("state") == "finished", timeout=240), read_status(job)
    lines = _lines(job / "predictions.jsonl")
    assert sorted((d["target"], d["index"]) for d in lines) == sorted(
        (t, i) for t in ("base", "final") for i in range(120))
    assert "resuming" in (job / "eval.log").read_text(encoding="utf-8")
    assert json.loads((job / "scores.json").read_text(encoding="utf-8"))["scores"]["final"]["rows"] == 120


def test_start_from_earlier_adapter(trained: tuple[Workspace, Path]) -> None:
    """Run B continued from run A's adapter starts at A's final training loss, not at the base model's."""
    ws, run = trained
    first = [r["loss"] for r in _lines(run / "metrics.jsonl") if "loss" in r]
    b = _train(ws, "continued", "adapter_name_or_path: runs/ident/adapter\nmax_steps: 3\nlogging_steps: 1\n"
                                "val_size: 0.1\nworst_rows: 0\n")
    continued = [r["loss"] for r in _lines(b / "metrics.jsonl") if "loss" in r]
    assert continued[0] < first[0] / 3 and continued[0] < 2 * first[-1] + 0.1, (first[0], first[-1], continued[0])
    assert read_status(b)["started_from"] == "runs/ident/adapter"
    assert "adapter_name_or_path: runs/ident/adapter" in (b / "config.yaml").read_text(encoding="utf-8")
    assert "LoRA continued from runs/ident/adapter" in (b / "train.log").read_text(encoding="utf-8")
    refused = cli("--workspace", str(ws.root), "validate", str(_yaml(ws, "finetuning_type: full\n"
                                                                          "adapter_name_or_path: runs/ident/adapter\n")))
    assert refused.returncode == 2 and "continues a LoRA run" in refused.stderr
    missing = cli("--workspace", str(ws.root), "validate", str(_yaml(ws, "adapter_name_or_path: runs/nope/adapter\n")))
    assert missing.returncode == 2 and "folder 'runs/nope/adapter' does not exist" in missing.stderr


def _yaml(ws: Workspace, text: str) -> Path:
    path = ws.root / "check.yaml"
    path.write_text(text, encoding="utf-8")
    return path
