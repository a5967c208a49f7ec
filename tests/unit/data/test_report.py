from pathlib import Path

from studio.data.registry import DatasetEntry
from studio.data.report import GARBLED, inspect, suggest_cutoff


def test_report_counts_reasons_duplicates_garbled_and_lengths(tmp_path: Path, demo_model: Path) -> None:
    from transformers import AutoTokenizer

    rows = ['{"instruction": "Hi", "output": "Hello there"}', '{"instruction": " hi ", "output": "hello  there"}',
            '{"instruction": "caf\u00c3\u00a9?", "output": "ok then"}', '{"instruction": "empty", "output": ""}',
            '{"instruction": "no answer"}', '{"instruction": "long", "output": "' + "word " * 200 + '"}']
    (tmp_path / "d.jsonl").write_text("\n".join(rows) + "\n", encoding="utf-8")
    entry = DatasetEntry.parse("d", {"file_name": "d.jsonl"})
    report = inspect(entry, tmp_path, AutoTokenizer.from_pretrained(demo_model), "demo")
    assert (report.total, report.kept) == (6, 4)
    assert report.dropped_by_reason == {"convert.empty": 1, "convert.missing_column": 1}
    assert [d.row for d in report.dropped] == [4, 5]
    assert report.quality["duplicate"] == {"count": 1, "rows": [2]}
    assert report.quality["garbled"]["rows"] == [3]
    assert report.quality["long"]["rows"] == [6]
    total = report.lengths["total"]
    assert total["p50"] <= total["p90"] <= total["p99"] == total["max"] > 200
    assert report.suggested_cutoff == suggest_cutoff(total["p99"]) >= total["p99"]
    effect = report.cutoff_effect(100)
    assert effect == {"cutoff": 100, "truncated": 1, "answer_cut": 1, "dropped": 0}
    assert report.cdf[-1][1] == 1.0


def test_suggested_cutoff_rounds_up_to_a_common_size() -> None:
    assert [suggest_cutoff(n) for n in (10, 64, 65, 700, 1025, 40000)] == [64, 64, 128, 768, 1536, 40960]


def test_garbled_pattern_spares_real_accents_and_chinese() -> None:
    assert all(GARBLED.search(s) for s in ("cafÃ©", "itâ€™s", "æ–‡å­—", "bad \ufffd byte"))
    assert not any(GARBLED.search(s) for s in ("café’s", "naïve", "中文数据", "Ørsted"))
