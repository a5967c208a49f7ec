"""Preference rows as LLaMA-Factory registers them: alpaca and sharegpt pairs, KTO rows; every refusal one sentence
naming the file, row and column; identical pairs and empty sides counted, not trained."""

import json
from pathlib import Path

import pytest

from studio.core.errors import StudioError
from studio.data.preference import kind, load_preferences, to_preference
from studio.data.registry import DatasetEntry, register

ALPACA = DatasetEntry.parse("pairs", {"file_name": "p.json", "ranking": True, "columns": {
    "prompt": "instruction", "query": "input", "chosen": "chosen", "rejected": "rejected", "system": "system",
    "history": "history"}})
SHAREGPT = DatasetEntry.parse("dpo_en_demo", {"file_name": "d.json", "ranking": True, "formatting": "sharegpt",
                                              "columns": {"messages": "conversations", "chosen": "chosen",
                                                          "rejected": "rejected"}})
KTO = DatasetEntry.parse("kto_en_demo", {"file_name": "k.json", "formatting": "sharegpt", "columns": {
    "messages": "messages", "kto_tag": "label"}, "tags": {"role_tag": "role", "content_tag": "content",
                                                         "user_tag": "user", "assistant_tag": "assistant"}})


def human(text: str) -> dict:
    return {"from": "human", "value": text}


def gpt(text: str) -> dict:
    return {"from": "gpt", "value": text}


def test_three_shapes_read_as_llamafactory_does() -> None:
    assert (kind(ALPACA), kind(SHAREGPT), kind(KTO)) == ("pairs", "pairs", "kto")
    row = {"instruction": "Say hi", "input": "politely", "chosen": "Hi!", "rejected": "Go away.", "system": "sys",
           "history": [["Q1", "A1"]]}
    pref = to_preference(row, ALPACA, 1)
    assert (pref.chosen, pref.rejected, pref.prompt.system) == ("Hi!", "Go away.", "sys")
    assert [(t.role, t.content) for t in pref.prompt.turns] == [("user", "Q1"), ("assistant", "A1"),
                                                               ("user", "Say hi\npolitely")]
    pref = to_preference({"conversations": [human("Hi")], "chosen": gpt("Hello!"), "rejected": gpt("No.")}, SHAREGPT, 2)
    assert (pref.prompt.turns[-1].content, pref.chosen, pref.rejected) == ("Hi", "Hello!", "No.")
    messages = [{"role": "user", "content": "q"}, {"role": "assistant", "content": "a"}]
    good, bad = (to_preference({"messages": messages, "label": tag}, KTO, 3) for tag in (True, False))
    assert (good.chosen, good.rejected, good.desirable, bad.chosen, bad.rejected) == ("a", "", True, "", "a")


@pytest.mark.parametrize(("entry", "row", "expected"), [
    (SHAREGPT, {"conversations": [human("Hi")], "chosen": gpt("Hello!")},
     "d.json row 4: the rejected answer (column 'rejected') is missing; a preference row needs both chosen and "
     "rejected. The row has: conversations, chosen."),
    (ALPACA, {"instruction": "Hi", "rejected": "No."},
     "p.json row 4: the chosen answer (column 'chosen') is missing; a preference row needs both chosen and rejected. "
     "The row has: instruction, rejected."),
    (SHAREGPT, {"conversations": [human("Hi")], "chosen": gpt("Same  answer"), "rejected": gpt(" Same answer ")},
     "d.json row 4: the chosen and rejected answers (columns chosen / rejected) are the same; the pair teaches "
     "nothing and is skipped."),
    (ALPACA, {"instruction": "Hi", "chosen": "", "rejected": "No."},
     "p.json row 4: the chosen answer (column 'chosen') is empty; a pair needs two answers to compare."),
    (SHAREGPT, {"conversations": [human("Hi")], "chosen": human("Hello!"), "rejected": gpt("No.")},
     "d.json row 4: message 2 is from 'user' where assistant / function was expected (turns must alternate)."),
    (KTO, {"messages": [{"role": "user", "content": "q"}, {"role": "assistant", "content": "a"}], "label": "true"},
     "k.json row 4: column 'label' should be true or false (is the answer good?), found 'true'."),
    (KTO, {"messages": [{"role": "user", "content": "q"}, {"role": "assistant", "content": "a"}], "label": 1},
     "k.json row 4: column 'label' should be true or false (is the answer good?), found 1."),
])
def test_bad_rows_are_one_sentence(entry: DatasetEntry, row: dict, expected: str) -> None:
    with pytest.raises(StudioError) as err:
        to_preference(row, entry, 4)
    assert str(err.value) == expected
    assert err.value.text("zh") != expected and entry.file_name in err.value.text("zh")  # said in Chinese too


def test_a_file_counts_what_it_skips(tmp_path: Path) -> None:
    rows = [{"conversations": [human(f"q{n}")], "chosen": gpt(f"good {n}"), "rejected": gpt(f"bad {n}")}
            for n in range(5)]
    rows[1]["rejected"] = gpt("good 1")
    del rows[3]["chosen"]
    (tmp_path / "d.json").write_text(json.dumps(rows), encoding="utf-8")
    register(tmp_path / "dataset_info.json", "dpo_en_demo", SHAREGPT.raw)
    loaded = load_preferences(tmp_path / "dataset_info.json", "dpo_en_demo")
    assert (loaded.total, len(loaded.items)) == (5, 3)
    assert [p.key for p in loaded.problems] == ["pref.identical", "pref.missing_side"]
    assert loaded.sources == ["d.json row 1", "d.json row 3", "d.json row 5"]
    rows = [rows[1], rows[3]]
    (tmp_path / "d.json").write_text(json.dumps(rows), encoding="utf-8")
    with pytest.raises(StudioError) as err:
        load_preferences(tmp_path / "dataset_info.json", "dpo_en_demo")
    assert err.value.key == "data.no_rows" and "none of its 2 rows" in str(err.value)


def test_the_mapping_form_proposes_pairs_and_kto_tags() -> None:
    from studio.data.mapping import build_raw, detect
    from studio.data.readers import Record

    pairs = detect([Record("p.json", n, {"instruction": "q", "input": "", "chosen": "a", "rejected": "b"})
                    for n in range(1, 4)])
    assert (pairs.columns["chosen"], pairs.columns["rejected"]) == ("chosen", "rejected")
    assert build_raw("p.json", pairs.formatting, pairs.columns, pairs.tags)["ranking"] is True
    rows = [{"messages": [{"role": "user", "content": "q"}, {"role": "assistant", "content": "a"}], "label": tag}
            for tag in (True, False, "true", True)]
    kto = detect([Record("k.json", n, row) for n, row in enumerate(rows, 1)])
    assert kto.columns["kto_tag"] == "label"  # proposed, and the odd row said before anything is registered
    assert [n.text() for n in kto.notes] == ["Column 'label' is proposed as kto_tag (true = a good answer), but 1 of "
                                             "the first 4 rows hold something other than true / false; those rows "
                                             "will be refused, each with its row number."]
