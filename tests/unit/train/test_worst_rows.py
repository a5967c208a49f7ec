"""worst_rows.jsonl is written atomically and read back as written; a run without it has none."""

from pathlib import Path

from studio.train.worst_rows import read, write


def test_worst_rows_round_trip(tmp_path: Path) -> None:
    assert read(tmp_path) == []
    ranked = [{"file": "d.json", "row": 3, "loss": 4.2, "text": "你好"}, {"file": "d.json", "row": 1, "loss": 1.0}]
    write(tmp_path, ranked)
    assert read(tmp_path) == ranked and not list(tmp_path.glob(".*.tmp"))
