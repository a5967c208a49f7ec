"""The Data tab's CLI twins, run as a user would: JSON on stdout, one sentence and exit 2 on bad input."""

import json
import shutil
from pathlib import Path

import pytest

from studio.core.workspace import Workspace

from .helpers import cli

FIXTURES = Path(__file__).parents[1] / "fixtures"


@pytest.fixture
def data_dir(ws: Workspace) -> Path:
    for name in ("text2sql.jsonl", "llava_single.json", "mllm_demo.json", "中文.jsonl"):
        shutil.copy(FIXTURES / name, ws.data_dir / name)
    return ws.data_dir


def _json(*args: str) -> object:
    done = cli(*args)
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


def test_register_preview_and_inspect_a_text_to_sql_file(ws: Workspace, data_dir: Path) -> None:
    base = ("--workspace", str(ws.root), "data")
    assert "text2sql.jsonl" in _json(*base, "files", "--dir", str(data_dir))
    out = _json(*base, "register", "--dir", str(data_dir), "--name", "bird", "--file", "text2sql.jsonl",
                "--column", "response=SQL")
    assert out["entry"]["columns"] == {"prompt": "question", "query": "evidence", "response": "SQL"}
    assert [e["name"] for e in _json(*base, "list", "--dir", str(data_dir))] == [
        "demo_identity", "demo_preference", "demo_feedback", "bird"]
    preview = _json(*base, "preview", "--dir", str(data_dir), "--dataset", "bird", "--rows", "5")
    assert preview["rows"][0]["messages"][1]["content"].startswith("SELECT COUNT(*)")
    assert preview["rows"][3]["error"] == "text2sql.jsonl row 4: the answer is empty; nothing to learn from."
    report = _json(*base, "inspect", "--dir", str(data_dir), "--dataset", "bird", "--cutoff", "64")
    assert (report["total"], report["kept"], report["dropped_by_reason"]) == (5, 4, {"convert.empty": 1})
    assert report["lengths"]["total"]["p99"] > 0 and report["suggested_cutoff"] >= report["lengths"]["total"]["p99"]
    assert report["cutoff_effect"]["cutoff"] == 64
    zh = cli("--workspace", str(ws.root), "--lang", "zh", "data", "preview", "--dir", str(data_dir), "--dataset",
             "bird", "--start", "4", "--rows", "1")
    assert "回答为空" in zh.stdout


def test_multimodal_file_registers_with_its_repairs_and_the_file_is_untouched(ws: Workspace, data_dir: Path) -> None:
    before = (data_dir / "llava_single.json").read_bytes()
    out = _json("--workspace", str(ws.root), "data", "register", "--name", "llava", "--file", "llava_single.json")
    assert out["entry"]["fixes"] == {"media_as_list": True, "image_placeholder": True}
    assert any("single path per row" in n for n in out["notes"])
    preview = _json("--workspace", str(ws.root), "data", "preview", "--dataset", "llava", "--rows", "4")
    assert preview["rows"][0]["messages"][0]["content"].startswith("<image>Write a detailed description")
    assert "2 <image> placeholder(s) in the text but 1 file(s)" in preview["rows"][2]["error"]
    assert (data_dir / "llava_single.json").read_bytes() == before


@pytest.mark.parametrize(("args", "sentence"), [
    (["register", "--name", "x", "--file", "text2sql.jsonl", "--column", "response=sql"],
     "Column 'sql' (mapped as response) is not in text2sql.jsonl; its columns are: question_id, db_id"),
    (["register", "--name", "demo_identity", "--file", "text2sql.jsonl", "--column", "response=SQL"],
     "Dataset 'demo_identity' is already registered"),
    (["register", "--name", "x", "--file", "../../outside.json"], "must be inside the data folder"),
    (["register", "--name", "x", "--file", "/etc/passwd"], "must be inside the data folder"),
    (["register", "--name", "x", "--file", "bad.jsonl"], "bad.jsonl line 2: not valid JSON"),
    (["register", "--name", "x", "--file", "latin.json"], "latin.json: not UTF-8"),
    (["register", "--name", "x", "--file", "empty.json"], "empty.json: the file is empty"),
    (["register", "--name", "x", "--file", "text2sql.jsonl", "--column", "oops"], "--column oops: expected KEY=VALUE"),
    (["preview", "--dataset", "nope"], "Dataset 'nope' is not registered"),
])
@pytest.mark.bad_input
def test_bad_input_gets_one_sentence_and_exit_2(ws: Workspace, data_dir: Path, args: list[str],
                                                sentence: str) -> None:
    (data_dir / "bad.jsonl").write_text('{"a": 1}\n{"a": \n', encoding="utf-8")
    (data_dir / "latin.json").write_bytes('[{"instruction": "café"}]'.encode("latin-1"))
    (data_dir / "empty.json").write_text("", encoding="utf-8")
    registry = ws.registry_file.read_bytes()
    done = cli("--workspace", str(ws.root), "data", *args)
    assert done.returncode == 2
    assert sentence in done.stderr and "Traceback" not in done.stderr
    assert len(done.stderr.strip().splitlines()) == 1
    assert ws.registry_file.read_bytes() == registry


@pytest.mark.bad_input
def test_a_registry_that_is_not_json_is_refused_untouched(ws: Workspace, data_dir: Path) -> None:
    ws.registry_file.write_text("{not json", encoding="utf-8")
    done = cli("--workspace", str(ws.root), "data", "register", "--name", "x", "--file", "text2sql.jsonl",
               "--column", "response=SQL")
    assert done.returncode == 2 and "dataset_info.json: expected a JSON object" in done.stderr
    assert ws.registry_file.read_text(encoding="utf-8") == "{not json"
