import pytest

from studio.core.errors import StudioError
from studio.data.convert import to_conversation
from studio.data.registry import DatasetEntry


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


def _sharegpt(**raw) -> DatasetEntry:
    return DatasetEntry.parse("d", {"file_name": "d.json", "formatting": "sharegpt", **raw})


def test_sharegpt_role_order_and_odd_count_are_named() -> None:
    with pytest.raises(StudioError, match="row 4: message 2 is from 'user' where assistant / function was expected"):
        to_conversation({"conversations": [{"from": "human", "value": "a"}, {"from": "human", "value": "b"}]},
                        _sharegpt(), 4)
    with pytest.raises(StudioError, match="row 5: 3 messages; expected pairs"):
        to_conversation({"conversations": [{"from": "human", "value": "a"}, {"from": "gpt", "value": "b"},
                                           {"from": "human", "value": "c"}]}, _sharegpt(), 5)


def test_openai_messages_with_tool_calls_and_content_parts() -> None:
    entry = DatasetEntry.parse("o", {"file_name": "o.json", "formatting": "openai", "columns": {"tools": "tools"}})
    row = {"messages": [
        {"role": "system", "content": "S"},
        {"role": "user", "content": [{"type": "image_url", "image_url": {"url": "x"}},
                                     {"type": "text", "text": "weather?"}]},
        {"role": "assistant", "content": None, "tool_calls": [
            {"type": "function", "function": {"name": "get_weather", "arguments": "{\"city\": \"Paris\"}"}}]},
        {"role": "tool", "content": "18C"},
        {"role": "assistant", "content": "It is 18C."}], "tools": [{"name": "get_weather"}]}
    conv = to_conversation(row, entry, 1)
    assert conv.system == "S" and conv.tools == '[{"name": "get_weather"}]'
    assert [(t.role, t.content) for t in conv.turns] == [
        ("user", "<image>weather?"), ("function", '{"name": "get_weather", "arguments": {"city": "Paris"}}'),
        ("tool", "18C"), ("assistant", "It is 18C.")]


def test_media_string_and_missing_placeholder_are_reported_or_repaired() -> None:
    row = {"image": "1.jpg", "conversations": [{"from": "human", "value": "Describe."}, {"from": "gpt", "value": "A cat."}]}
    plain = _sharegpt(columns={"messages": "conversations", "images": "image"})
    with pytest.raises(StudioError, match="column 'image' is one path, not a list"):
        to_conversation(row, plain, 1)
    wrapped = _sharegpt(columns={"messages": "conversations", "images": "image"}, fixes={"media_as_list": True})
    with pytest.raises(StudioError, match="0 <image> placeholder\\(s\\) in the text but 1 file\\(s\\) in 'image'"):
        to_conversation(row, wrapped, 1)
    fixed = _sharegpt(columns={"messages": "conversations", "images": "image"},
                      fixes={"media_as_list": True, "image_placeholder": True})
    conv = to_conversation(row, fixed, 1)
    assert conv.images == ("1.jpg",) and conv.turns[0].content == "<image>Describe."
    assert row["conversations"][0]["value"] == "Describe."  # the row itself is not changed


def test_text_rows_and_bad_types() -> None:
    text = DatasetEntry.parse("t", {"file_name": "t.jsonl", "columns": {"prompt": "text"}})
    assert to_conversation({"text": "hello"}, text, 1).kind == "text"
    with pytest.raises(StudioError, match="row 2: the text \\(column 'text'\\) is empty"):
        to_conversation({"text": "  "}, text, 2)
    alpaca = DatasetEntry.parse("a", {"file_name": "a.json"})
    with pytest.raises(StudioError, match="row 3: column 'output' should be text, found dict"):
        to_conversation({"instruction": "q", "output": {"x": 1}}, alpaca, 3)
