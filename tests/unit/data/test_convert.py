import pytest

from studio.data.convert import to_conversation
from studio.data.registry import DatasetEntry
from studio.errors import StudioError


def test_alpaca_history_system_and_query_become_turns() -> None:
    entry = DatasetEntry.parse("d", {"file_name": "d.json", "columns": {"history": "history", "system": "sys"}})
    row = {"instruction": "Translate", "input": "猫", "output": "cat", "sys": "Be brief.",
           "history": [["hi", "hello"]]}
    conv = to_conversation(row, entry, 1)
    assert conv.system == "Be brief."
    assert [(t.role, t.content) for t in conv.turns] == [
        ("user", "hi"), ("assistant", "hello"), ("user", "Translate\n猫"), ("assistant", "cat")]


def test_alpaca_missing_column_names_file_row_and_column() -> None:
    entry = DatasetEntry.parse("d", {"file_name": "d.json"})
    with pytest.raises(StudioError, match="d.json row 7: column 'output' is missing"):
        to_conversation({"instruction": "x"}, entry, 7)


def test_sharegpt_leading_system_and_tool_turns() -> None:
    entry = DatasetEntry.parse("d", {"file_name": "d.json", "formatting": "sharegpt"})
    row = {"conversations": [{"from": "system", "value": "S"}, {"from": "human", "value": "q"},
                             {"from": "function_call", "value": "{}"}, {"from": "observation", "value": "r"},
                             {"from": "gpt", "value": "a"}]}
    conv = to_conversation(row, entry, 1)
    assert conv.system == "S"
    assert [t.role for t in conv.turns] == ["user", "function", "tool", "assistant"]


def test_sharegpt_unknown_role_is_named() -> None:
    entry = DatasetEntry.parse("d", {"file_name": "d.json", "formatting": "sharegpt"})
    with pytest.raises(StudioError, match="row 3: message 2 has role 'bot'"):
        to_conversation({"conversations": [{"from": "human", "value": "q"}, {"from": "bot", "value": "a"}]}, entry, 3)


def test_row_without_answer_is_refused() -> None:
    entry = DatasetEntry.parse("d", {"file_name": "d.json"})
    with pytest.raises(StudioError, match="row 2: the answer is empty"):
        to_conversation({"instruction": "q", "output": ""}, entry, 2)
