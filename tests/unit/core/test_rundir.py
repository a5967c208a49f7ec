import json
from pathlib import Path

from studio.core.rundir import METRICS_FILE, append_metric, last_error_line, read_metrics, read_status, update_status


def test_read_metrics_skips_torn_last_line_until_complete(tmp_path: Path) -> None:
    append_metric(tmp_path, {"step": 1, "loss": 2.0})
    with open(tmp_path / METRICS_FILE, "a", encoding="utf-8") as fh:
        fh.write('{"step": 2, "lo')
    rows, offset = read_metrics(tmp_path)
    assert rows == [{"step": 1, "loss": 2.0}]
    with open(tmp_path / METRICS_FILE, "a", encoding="utf-8") as fh:
        fh.write('ss": 1.5}\n')
    more, _ = read_metrics(tmp_path, offset)
    assert more == [{"step": 2, "loss": 1.5}]


def test_update_status_merges_and_versions(tmp_path: Path) -> None:
    update_status(tmp_path, state="queued", preset="demo")
    update_status(tmp_path, state="running", pid=12)
    status = read_status(tmp_path)
    assert status["state"] == "running" and status["preset"] == "demo" and status["schema_version"] == 1
    assert not list(tmp_path.glob(".*.tmp"))
    assert json.loads((tmp_path / "status.json").read_text())["pid"] == 12


def test_last_error_line_prefers_the_error(tmp_path: Path) -> None:
    (tmp_path / "train.log").write_text("a\nValueError: bad thing\nshutting down\n", encoding="utf-8")
    assert last_error_line(tmp_path) == "ValueError: bad thing"
