import json
from itertools import islice
from pathlib import Path

import pytest

from studio.core.errors import StudioError
from studio.data.readers import Row, iter_records, read_page


def read_rows(path: Path, limit: int | None = None) -> list[Row]:
    """The rows of a data file as the streaming reader yields them (the first `limit` when given)."""
    return [r.row for r in islice(iter_records(path), limit)]


def test_read_rows_json_list_with_bom(tmp_path: Path) -> None:
    path = tmp_path / "a.json"
    path.write_bytes('\ufeff[{"instruction": "你好", "output": "嗨"}]'.encode())
    assert read_rows(path) == [{"instruction": "你好", "output": "嗨"}]


def test_read_rows_jsonl_and_limit(tmp_path: Path) -> None:
    path = tmp_path / "a.jsonl"
    path.write_text("\n".join(f'{{"n": {i}}}' for i in range(10)) + "\n", encoding="utf-8")
    assert read_rows(path, limit=3) == [{"n": 0}, {"n": 1}, {"n": 2}]


@pytest.mark.bad_input
def test_read_rows_names_line_of_bad_jsonl(tmp_path: Path) -> None:
    path = tmp_path / "bad.jsonl"
    path.write_text('{"a": 1}\n{"a": 2}\n{"a": \n', encoding="utf-8")
    with pytest.raises(StudioError) as err:
        read_rows(path)
    assert "bad.jsonl line 3" in str(err.value)
    assert "第 3 行" in err.value.text("zh")


@pytest.mark.bad_input
def test_read_rows_refuses_non_utf8_and_empty(tmp_path: Path) -> None:
    latin = tmp_path / "latin.json"
    latin.write_bytes('[{"a": "café"}]'.encode("latin-1"))
    empty = tmp_path / "empty.jsonl"
    empty.write_text("", encoding="utf-8")
    with pytest.raises(StudioError, match="latin.json: not UTF-8"):
        read_rows(latin)
    with pytest.raises(StudioError, match="empty.jsonl: the file is empty"):
        read_rows(empty)


@pytest.mark.bad_input
def test_read_rows_names_row_that_is_not_an_object(tmp_path: Path) -> None:
    path = tmp_path / "mixed.json"
    path.write_text('[{"a": 1}, [1, 2]]', encoding="utf-8")
    with pytest.raises(StudioError, match="mixed.json row 2: expected a JSON object, found list"):
        read_rows(path)


@pytest.mark.bad_input
def test_read_rows_unsupported_extension(tmp_path: Path) -> None:
    path = tmp_path / "x.xlsx"
    path.write_text("zz", encoding="utf-8")
    with pytest.raises(StudioError, match="unsupported file type '.xlsx'"):
        read_rows(path)


@pytest.mark.bad_input
def test_json_list_is_streamed_and_names_the_line_of_a_broken_row(tmp_path: Path, monkeypatch) -> None:
    import studio.data.readers as readers

    monkeypatch.setattr(readers, "CHUNK", 16)  # force rows to straddle chunk boundaries
    rows = [{"instruction": f"问题 {i}", "output": "x" * (i * 7)} for i in range(30)]
    path = tmp_path / "big.json"
    path.write_text(json.dumps(rows, ensure_ascii=False, indent=2), encoding="utf-8")
    assert read_rows(path) == rows
    records, more = read_page(path, start=28, count=5)
    assert [r.number for r in records] == [29, 30] and not more
    broken = tmp_path / "broken.json"
    broken.write_text('[\n {"a": 1},\n {"a": 2},\n {"a": 3,, }\n]', encoding="utf-8")
    with pytest.raises(StudioError, match="broken.json: not valid JSON at line 4"):
        read_rows(broken)


def test_json_with_one_object_per_line_and_a_single_object(tmp_path: Path) -> None:
    lines = tmp_path / "lines.json"
    lines.write_text('{"a": 1}\n{"a": 2}\n', encoding="utf-8")
    assert read_rows(lines) == [{"a": 1}, {"a": 2}]
    single = tmp_path / "single.json"
    single.write_text('{\n "a": 1\n}', encoding="utf-8")
    with pytest.raises(StudioError, match="expected a JSON list of objects, found object"):
        read_rows(single)


def test_csv_txt_parquet_arrow_and_folder(tmp_path: Path) -> None:
    import pyarrow as pa
    import pyarrow.parquet as pq
    from datasets import Dataset

    (tmp_path / "a.csv").write_text("instruction,output\n你好,嗨\n\"a, b\",c\n", encoding="utf-8-sig")
    assert read_rows(tmp_path / "a.csv") == [{"instruction": "你好", "output": "嗨"},
                                             {"instruction": "a, b", "output": "c"}]
    (tmp_path / "t.txt").write_text("first line\n\nsecond line\n", encoding="utf-8")
    assert [r.number for r in iter_records(tmp_path / "t.txt")] == [1, 3]
    table = pa.table({"q": ["x", "y"], "a": ["1", "2"]})
    pq.write_table(table, tmp_path / "d.parquet")
    assert read_rows(tmp_path / "d.parquet") == [{"q": "x", "a": "1"}, {"q": "y", "a": "2"}]
    saved = tmp_path / "saved"
    Dataset.from_dict({"q": ["x", "y"]}).save_to_disk(str(saved))  # the arrow files `datasets` writes
    arrow = next(saved.glob("*.arrow"))
    assert read_rows(arrow) == [{"q": "x"}, {"q": "y"}]
    folder = tmp_path / "parts"
    folder.mkdir()
    (folder / "1.jsonl").write_text('{"n": 1}\n', encoding="utf-8")
    (folder / "2.jsonl").write_text('{"n": 2}\n', encoding="utf-8")
    assert [(r.file, r.row) for r in iter_records(folder)] == [("parts/1.jsonl", {"n": 1}), ("parts/2.jsonl", {"n": 2})]
    (folder / "3.csv").write_text("n\n3\n", encoding="utf-8")
    with pytest.raises(StudioError, match="files of one supported type"):
        read_rows(folder)


def test_preview_of_a_large_jsonl_reads_only_the_first_page(tmp_path: Path) -> None:
    path = tmp_path / "large.jsonl"
    with path.open("w", encoding="utf-8") as f:
        f.write('{"text": "first"}\n')
        f.write("not json at all\n" * 10)  # a reader that parsed the whole file would fail here
    records, more = read_page(path, 0, 1)
    assert records[0].row == {"text": "first"} and more is True
