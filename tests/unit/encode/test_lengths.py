"""Inspection with token lengths, and the one cutoff rule (the Data tab's suggestion is what cutoff_len 0 uses)."""

from pathlib import Path

from studio.core.workspace import Workspace
from studio.data.registry import DatasetEntry
from studio.data.report import inspect
from studio.encode.lengths import cutoff_for, dataset_cutoff, inspect_dataset, measure


def test_report_counts_reasons_duplicates_garbled_and_lengths(tmp_path: Path, demo_model: Path) -> None:
    from transformers import AutoTokenizer

    rows = ['{"instruction": "Hi", "output": "Hello there"}', '{"instruction": " hi ", "output": "hello  there"}',
            '{"instruction": "caf\u00c3\u00a9?", "output": "ok then"}', '{"instruction": "empty", "output": ""}',
            '{"instruction": "no answer"}', '{"instruction": "long", "output": "' + "word " * 200 + '"}']
    (tmp_path / "d.jsonl").write_text("\n".join(rows) + "\n", encoding="utf-8")
    entry = DatasetEntry.parse("d", {"file_name": "d.jsonl"})
    report = measure(inspect(entry, tmp_path), AutoTokenizer.from_pretrained(demo_model), "chatml", demo_model)
    assert (report.total, report.kept) == (6, 4)
    assert report.dropped_by_reason == {"convert.empty": 1, "convert.missing_column": 1}
    assert [d.row for d in report.dropped] == [4, 5]
    assert report.quality["duplicate"] == {"count": 1, "rows": [2]}
    assert report.quality["garbled"]["rows"] == [3]
    assert report.quality["long"]["rows"] == [6]
    total = report.lengths["total"]
    assert total["p50"] <= total["p90"] <= total["p99"] == total["max"] > 200
    assert report.suggested_cutoff == cutoff_for([total["p99"]]) >= total["p99"]
    effect = report.cutoff_effect(100)
    assert effect == {"cutoff": 100, "truncated": 1, "answer_cut": 1, "dropped": 0}
    assert report.cdf[-1][1] == 1.0


def test_cutoff_rounds_the_p99_up_to_64() -> None:
    assert [cutoff_for([n]) for n in (10, 64, 65, 700, 1025, 40000)] == [64, 64, 128, 704, 1088, 40000]
    assert cutoff_for(list(range(1, 301))) == 320  # p99 of 1..300 is 297
    assert cutoff_for([5000], limit=2048) == 2048


def test_data_tab_suggestion_is_what_cutoff_zero_uses(ws: Workspace) -> None:
    model = ws.root / "models" / "demo-tiny"
    report = inspect_dataset(ws.data_dir, "demo_identity", model, "chatml")
    assert report.suggested_cutoff == dataset_cutoff(ws.data_dir, "demo_identity", model, "chatml")
