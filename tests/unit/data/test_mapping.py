from pathlib import Path

from studio.data.mapping import build_raw, check_mapping, detect
from studio.data.readers import iter_records
from studio.data.registry import DatasetEntry

FIXTURES = Path(__file__).parents[2] / "fixtures"


def _detect(name: str):
    return detect(list(iter_records(FIXTURES / name)))


def test_text_to_sql_proposes_question_and_evidence_and_asks_for_the_answer() -> None:
    p = _detect("text2sql.jsonl")
    assert p.formatting == "alpaca"
    assert p.columns["prompt"] == "question" and p.columns["query"] == "evidence" and not p.columns["response"]
    assert p.file_columns == ["question_id", "db_id", "question", "evidence", "SQL", "difficulty"]
    raw = build_raw("text2sql.jsonl", "alpaca", {**p.columns, "response": "SQL"}, p.tags)
    assert raw == {"file_name": "text2sql.jsonl",
                   "columns": {"prompt": "question", "query": "evidence", "response": "SQL"}}


def test_multimodal_string_image_without_placeholder_gets_notes_and_fixes() -> None:
    p = _detect("llava_single.json")
    assert p.formatting == "sharegpt" and p.columns["messages"] == "conversations" and p.columns["images"] == "image"
    assert p.fixes == ["media_as_list", "image_placeholder"]
    assert [n.key for n in p.notes] == ["detect.media_string", "detect.no_placeholder"]
    assert p.role_values == ["human", "gpt"] and p.message_keys == ["from", "value"]


def test_openai_messages_and_text_are_recognised() -> None:
    p = _detect("mllm_demo.json")
    assert p.formatting == "openai" and p.tags["role_tag"] == "role" and p.columns["images"] == "images"
    raw = build_raw("mllm_demo.json", "openai", p.columns, p.tags)
    assert raw["formatting"] == "sharegpt" and raw["tags"]["user_tag"] == "user"  # as LLaMA-Factory 0.9 reads it


def test_unknown_column_is_named_with_the_real_ones() -> None:
    records = list(iter_records(FIXTURES / "text2sql.jsonl"))
    entry = DatasetEntry.parse("s", {"file_name": "text2sql.jsonl",
                                     "columns": {"prompt": "question", "response": "sql"}})
    [problem] = check_mapping(entry, records)
    assert str(problem) == ("Column 'sql' (mapped as response) is not in text2sql.jsonl; its columns are: "
                            "question_id, db_id, question, evidence, SQL, difficulty.")


def test_custom_role_names_are_proposed_from_who_speaks_first() -> None:
    from studio.data.mapping import detect
    from studio.data.readers import Record

    rows = [{"dialog": [{"speaker": "system", "text": "be kind"}, {"speaker": "customer", "text": "hi"},
                        {"speaker": "agent", "text": "hello"}]},
            {"dialog": [{"speaker": "customer", "text": "a"}, {"speaker": "agent", "text": "b"},
                        {"speaker": "customer", "text": "c"}, {"speaker": "agent", "text": "d"}]}]
    p = detect([Record("f.json", i + 1, r) for i, r in enumerate(rows)])
    assert p.formatting == "sharegpt"
    assert (p.tags["role_tag"], p.tags["content_tag"]) == ("speaker", "text")
    assert (p.tags["user_tag"], p.tags["assistant_tag"], p.tags["system_tag"]) == ("customer", "agent", "system")
    assert "'customer' → user, 'agent' → assistant" in p.notes[0].text()
    known = [{"conversations": [{"from": "human", "value": "q"}, {"from": "gpt", "value": "a"}]}]
    p = detect([Record("g.json", 1, known[0])])
    assert (p.tags["user_tag"], p.tags["assistant_tag"]) == ("human", "gpt") and not p.notes
