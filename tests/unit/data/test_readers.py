from pathlib import Path

import pytest

from studio.data.readers import read_rows
from studio.errors import StudioError


def test_read_rows_json_list_with_bom(tmp_path: Path) -> None:
    path = tmp_path / "a.json"
    path.write_bytes('\ufeff[{"instruction": "你好", "output": "嗨"}]'.encode())
    assert read_rows(path) == [{"instruction": "你好", "output": "嗨"}]


def test_read_rows_jsonl_and_limit(tmp_path: Path) -> None:
    path = tmp_path / "a.jsonl"
    path.write_text("\n".join(f'{{"n": {i}}}' for i in range(10)) + "\n", encoding="utf-8")
    assert read_rows(path, limit=3) == [{"n": 0}, {"n": 1}, {"n": 2}]


def test_read_rows_names_line_of_bad_jsonl(tmp_path: Path) -> None:
    path = tmp_path / "bad.jsonl"
    path.write_text('{"a": 1}\n{"a": 2}\n{"a": \n', encoding="utf-8")
    with pytest.raises(StudioError) as err:
        read_rows(path)
    assert "bad.jsonl line 3" in str(err.value)
    assert "第 3 行" in err.value.text("zh")


def test_read_rows_refuses_non_utf8_and_empty(tmp_path: Path) -> None:
    latin = tmp_path / "latin.json"
    latin.write_bytes('[{"a": "café"}]'.encode("latin-1"))
    empty = tmp_path / "empty.jsonl"
    empty.write_text("", encoding="utf-8")
    with pytest.raises(StudioError, match="latin.json: not UTF-8"):
        read_rows(latin)
    with pytest.raises(StudioError, match="empty.jsonl: the file is empty"):
        read_rows(empty)


def test_read_rows_names_row_that_is_not_an_object(tmp_path: Path) -> None:
    path = tmp_path / "mixed.json"
    path.write_text('[{"a": 1}, [1, 2]]', encoding="utf-8")
    with pytest.raises(StudioError, match="mixed.json row 2: expected a JSON object, found list"):
        read_rows(path)


def test_read_rows_unsupported_extension(tmp_path: Path) -> None:
    path = tmp_path / "x.xlsx"
    path.write_text("zz", encoding="utf-8")
    with pytest.raises(StudioError, match="unsupported file type '.xlsx'"):
        read_rows(path)
