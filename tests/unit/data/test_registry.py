import json
import shutil
from pathlib import Path

import pytest

from studio.core.errors import StudioError
from studio.data.load import load_dataset
from studio.data.registry import load_registry, register

FIXTURES = Path(__file__).parents[2] / "fixtures"


@pytest.fixture
def lf_data(tmp_path: Path) -> Path:
    for name in ("lf_dataset_info.json", "identity.json", "mllm_demo.json", "中文.jsonl"):
        shutil.copy(FIXTURES / name, tmp_path / name)
    (tmp_path / "lf_dataset_info.json").rename(tmp_path / "dataset_info.json")
    return tmp_path / "dataset_info.json"


def test_load_registry_reads_llamafactory_file_as_is(lf_data: Path) -> None:
    reg = load_registry(lf_data)
    states = {name: e.state(lf_data.parent) for name, e in reg.items()}
    assert states == {"identity": "ok", "alpaca_zh_demo": "missing", "glaive_toolcall_en_demo": "missing",
                      "mllm_demo": "ok", "alpaca_en": "remote", "中文数据": "ok"}


def test_partial_columns_and_tags_keep_documented_defaults(lf_data: Path) -> None:
    reg = load_registry(lf_data)
    glaive = reg["glaive_toolcall_en_demo"]
    assert glaive.columns["messages"] == "conversations" and glaive.columns["tools"] == "tools"
    assert glaive.tags["role_tag"] == "from" and glaive.tags["user_tag"] == "human"
    mllm = reg["mllm_demo"]
    assert mllm.tags["observation_tag"] == "observation" and mllm.tags["role_tag"] == "role"


def test_load_dataset_converts_sharegpt_with_role_tags(lf_data: Path) -> None:
    loaded = load_dataset(lf_data, "mllm_demo")
    assert loaded.conversations[0].as_messages() == [
        {"role": "user", "content": "<image>Who are they?"},
        {"role": "assistant", "content": "They're Kane and Gretzka."}]


def test_load_dataset_chinese_file_name(lf_data: Path) -> None:
    loaded = load_dataset(lf_data, "中文数据")
    assert [c.turns[1].content for c in loaded.conversations] == ["你好！", "再见！"]


def test_remote_and_missing_entries_say_why(lf_data: Path) -> None:
    with pytest.raises(StudioError, match="cannot be loaded offline"):
        load_dataset(lf_data, "alpaca_en")
    with pytest.raises(StudioError, match="alpaca_zh_demo.json: file not found"):
        load_dataset(lf_data, "alpaca_zh_demo")
    with pytest.raises(StudioError, match="'nope' is not registered"):
        load_dataset(lf_data, "nope")


def test_register_keeps_other_entries_order_and_text(lf_data: Path) -> None:
    before = lf_data.read_text(encoding="utf-8")
    register(lf_data, "new_one", {"file_name": "new.json"})
    data = json.loads(lf_data.read_text(encoding="utf-8"))
    assert list(data)[:-1] == list(json.loads(before)) and list(data)[-1] == "new_one"
    assert "中文数据" in lf_data.read_text(encoding="utf-8")  # not \u-escaped
    assert (lf_data.parent / "dataset_info.json.bak").read_text(encoding="utf-8") == before


def test_register_refuses_bad_formatting_without_touching_file(lf_data: Path) -> None:
    before = lf_data.read_text(encoding="utf-8")
    with pytest.raises(StudioError, match="formatting 'csv' is not one of alpaca, sharegpt"):
        register(lf_data, "x", {"file_name": "x.json", "formatting": "csv"})
    assert lf_data.read_text(encoding="utf-8") == before


def test_register_keeps_order_text_and_one_backup_and_asks_before_replacing(lf_data: Path) -> None:
    before = lf_data.read_text(encoding="utf-8")
    register(lf_data, "新数据", {"file_name": "中文.jsonl"})
    data = json.loads(lf_data.read_text(encoding="utf-8"))
    assert list(data)[-1] == "新数据" and list(data)[:-1] == list(json.loads(before))
    assert "中文数据" in lf_data.read_text(encoding="utf-8")  # non-ASCII kept as text, not \\u escapes
    assert lf_data.with_name("dataset_info.json.bak").read_text(encoding="utf-8") == before
    with pytest.raises(StudioError, match="already registered"):
        register(lf_data, "identity", {"file_name": "other.json"})
    assert json.loads(lf_data.read_text(encoding="utf-8"))["identity"] == {"file_name": "identity.json"}
    register(lf_data, "identity", {"file_name": "other.json"}, overwrite=True)
    assert json.loads(lf_data.read_text(encoding="utf-8"))["identity"] == {"file_name": "other.json"}


def test_a_registry_that_is_not_json_is_refused_and_left_untouched(tmp_path: Path) -> None:
    path = tmp_path / "dataset_info.json"
    path.write_text('{"a": {"file_name": "a.json"},}', encoding="utf-8")
    with pytest.raises(StudioError, match="dataset_info.json: expected a JSON object"):
        register(path, "b", {"file_name": "b.json"})
    assert path.read_text(encoding="utf-8") == '{"a": {"file_name": "a.json"},}'
    assert not path.with_name("dataset_info.json.bak").exists()


def test_prompt_only_entries_are_text_unless_rows_carry_output(tmp_path: Path) -> None:
    from studio.data.load import load_dataset

    (tmp_path / "c4.jsonl").write_text('{"text": "plain words"}\n', encoding="utf-8")
    (tmp_path / "q.jsonl").write_text('{"question": "q?", "output": "a"}\n', encoding="utf-8")
    register(tmp_path / "dataset_info.json", "c4", {"file_name": "c4.jsonl", "columns": {"prompt": "text"}})
    register(tmp_path / "dataset_info.json", "q", {"file_name": "q.jsonl", "columns": {"prompt": "question"}})
    c4 = load_dataset(tmp_path / "dataset_info.json", "c4")
    assert c4.entry.formatting == "text" and c4.conversations[0].kind == "text"
    q = load_dataset(tmp_path / "dataset_info.json", "q")
    assert q.entry.formatting == "alpaca" and q.conversations[0].as_messages()[1]["content"] == "a"


def test_openai_alias_and_ranking_entries(tmp_path: Path) -> None:
    from studio.data.registry import DatasetEntry

    entry = DatasetEntry.parse("o", {"file_name": "o.json", "formatting": "openai"})
    assert entry.tags["role_tag"] == "role" and entry.tags["observation_tag"] == "tool"
    assert DatasetEntry.parse("r", {"file_name": "r.json", "ranking": True}).ranking
    with pytest.raises(StudioError, match="formatting 'chatml' is not one of alpaca, sharegpt, openai"):
        DatasetEntry.parse("x", {"file_name": "x.json", "formatting": "chatml"})
