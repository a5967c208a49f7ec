from pathlib import Path

import pytest

from studio.core.errors import StudioError
from studio.data import actions


def test_upload_keeps_chinese_names_and_never_replaces_a_file(tmp_path: Path) -> None:
    data = tmp_path / "data"
    data.mkdir()
    src = tmp_path / "上传.jsonl"
    src.write_text('{"text": "新"}\n', encoding="utf-8")
    assert actions.upload(data, src, "中文数据.jsonl") == "中文数据.jsonl"
    assert actions.upload(data, src, "中文数据.jsonl") == "中文数据 (1).jsonl"
    for bad in ("../x.jsonl", ".hidden.jsonl", "a/b.jsonl"):
        with pytest.raises(StudioError, match="may not contain a path"):
            actions.upload(data, src, bad)


def test_data_files_lists_files_and_one_type_folders_but_not_the_registry(tmp_path: Path) -> None:
    (tmp_path / "dataset_info.json").write_text("{}", encoding="utf-8")
    (tmp_path / "a.json").write_text("[]", encoding="utf-8")
    (tmp_path / "notes.md").write_text("x", encoding="utf-8")
    (tmp_path / "shards").mkdir()
    (tmp_path / "shards" / "1.parquet").write_bytes(b"")
    (tmp_path / "mixed").mkdir()
    (tmp_path / "mixed" / "1.json").write_text("[]", encoding="utf-8")
    (tmp_path / "mixed" / "2.csv").write_text("a\n", encoding="utf-8")
    assert actions.data_files(tmp_path) == ["a.json", "mixed/1.json", "mixed/2.csv", "shards/", "shards/1.parquet"]


def test_paths_are_confined_to_the_data_folder(tmp_path: Path) -> None:
    assert actions.confine(tmp_path, "sub/../a.json") == (tmp_path / "a.json").resolve()
    for bad in ("../a.json", "/etc/passwd", "~/x.json", ""):
        with pytest.raises(StudioError, match="must be inside the data folder"):
            actions.confine(tmp_path, bad)
