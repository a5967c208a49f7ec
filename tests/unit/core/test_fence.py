"""The fence's rules one by one: names, model roots (operator-widened), data roots, remote-code references,
export targets and crash recovery, Host / Origin parsing."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from studio.core.errors import StudioError
from studio.core.workspace import DATA_DIRS_ENV, MODEL_DIRS_ENV, Workspace, check_name
from studio.data.registry import DatasetEntry
from studio.model.info import check_remote_code
from studio.serve import export
from studio.ui.guard import host_name, parse_size
from studio.ui.server import allowed_hosts


@pytest.mark.parametrize("name", ["demo_identity", "中文数据", "run-1.2", "a" * 100, "_x"])
def test_check_name_accepts_plain_names(name: str) -> None:
    assert check_name(name, "name") == name


@pytest.mark.parametrize("name", ["", ".", "..", ".hidden", "-flag", "a/b", "a\\b", "a\x00b", "a b", "a" * 101])
def test_check_name_refuses_paths_and_odd_names(name: str) -> None:
    with pytest.raises(StudioError):
        check_name(name, "name")


def test_browser_model_roots_and_operator_dirs(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    ws = Workspace.at(tmp_path / "ws")
    (ws.models_dir / "m").mkdir()
    (ws.models_dir / "m" / "config.json").write_text("{}")
    shared = tmp_path / "shared"
    (shared / "big").mkdir(parents=True)
    (shared / "big" / "config.json").write_text("{}")
    (ws.models_dir / "link").symlink_to(shared / "big")
    assert ws.browser_model("models/m") == str(ws.models_dir / "m")
    assert ws.browser_model("Qwen/Qwen2.5-0.5B") == "Qwen/Qwen2.5-0.5B"
    for outside in (str(shared / "big"), "models/link", "data", "../ws/models/../data", "/etc"):
        with pytest.raises(StudioError, match="a model must be a folder under models/"):
            ws.browser_model(outside)
    assert ws.local_models() == ["models/m"]
    monkeypatch.setenv(MODEL_DIRS_ENV, str(shared))  # what --model-dir sets
    assert ws.browser_model(str(shared / "big")) == str(shared / "big")
    assert ws.local_models() == ["models/link", "models/m"]


def test_registry_entry_outside_unless_a_data_root(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    data, elsewhere = tmp_path / "data", tmp_path / "elsewhere"
    data.mkdir()
    elsewhere.mkdir()
    (elsewhere / "rows.jsonl").write_text("{}\n")
    (data / "inside.jsonl").write_text("{}\n")
    (data / "folder").mkdir()
    (data / "folder" / "a.jsonl").symlink_to(elsewhere / "rows.jsonl")
    states = {name: DatasetEntry.parse("x", {"file_name": name}).state(data)
              for name in ("inside.jsonl", str(elsewhere / "rows.jsonl"), "../elsewhere/rows.jsonl", "folder",
                           "nope.jsonl")}
    assert states == {"inside.jsonl": "ok", str(elsewhere / "rows.jsonl"): "outside",
                      "../elsewhere/rows.jsonl": "outside", "folder": "outside", "nope.jsonl": "missing"}
    monkeypatch.setenv(DATA_DIRS_ENV, str(elsewhere))  # what --data-dir sets
    assert DatasetEntry.parse("x", {"file_name": "../elsewhere/rows.jsonl"}).state(data) == "ok"


def _model(folder: Path, ref: str, model_type: str = "custom-x") -> Path:
    folder.mkdir(parents=True)
    (folder / "config.json").write_text(json.dumps({"model_type": model_type, "auto_map": {"AutoConfig": ref}}))
    return folder


def test_remote_code_references_must_stay_in_the_folder(tmp_path: Path) -> None:
    inside = _model(tmp_path / "ok", "my_model.MyConfig")
    (inside / "my_model.py").write_text("")
    assert check_remote_code(inside, True) is True
    for name, ref in (("repo", "other/repo--my_model.MyConfig"), ("dir", f"{tmp_path}--evil.Evil"),
                      ("absent", "missing_module.X"), ("climb", "../ok/my_model.MyConfig")):
        with pytest.raises(StudioError, match="names code outside the model folder"):
            check_remote_code(_model(tmp_path / name, ref), True)
    with pytest.raises(StudioError, match="running model code is off"):
        check_remote_code(inside, False)
    known = _model(tmp_path / "llama", "my_model.MyConfig", model_type="llama")
    assert check_remote_code(known, False) is False  # transformers uses its own class; nothing is imported


def test_export_target_is_one_name_under_exports(tmp_path: Path) -> None:
    ws = Workspace.at(tmp_path / "ws")
    assert export.browser_target(ws, "exports/mine") == ws.exports_dir.resolve() / "mine"
    assert export.browser_target(ws, "mine") == ws.exports_dir.resolve() / "mine"
    for bad in (".", "", "exports", "exports/..", "../data", "/tmp/x", "a/b", "exports/.hidden"):
        with pytest.raises(StudioError):
            export.browser_target(ws, bad)


def test_recover_after_a_crash_between_the_two_renames(tmp_path: Path) -> None:
    exports = tmp_path / "exports"
    old = exports / "ok"
    old.mkdir(parents=True)
    (old / "model.safetensors").write_text("old")
    staging = exports / ".ok.partial-1"
    staging.mkdir()
    old.rename(exports / ".ok.old-2")  # killed here: neither name holds an export
    (exports / ".gone.partial-3").mkdir()
    assert export.recover(exports) == ["removed .gone.partial-3", "restored ok (its replacement did not finish)",
                                       "removed .ok.partial-1"]
    assert (exports / "ok" / "model.safetensors").read_text() == "old"
    assert sorted(os.listdir(exports)) == ["ok"]


def test_host_and_origin_names() -> None:
    assert host_name("127.0.0.1:7860") == "127.0.0.1" and host_name("[::1]:7860") == "::1"
    assert host_name("Studio.LAN") == "studio.lan" and host_name("http://evil.example:99/x") == "evil.example"
    hosts = allowed_hosts("127.0.0.1", ["studio.lan"])
    assert {"127.0.0.1", "localhost", "::1", "studio.lan"} <= hosts and "evil.example" not in hosts
    assert "0.0.0.0" not in allowed_hosts("0.0.0.0", [])
    assert parse_size("2GB") == 2 * 2**30 and parse_size("500 mb") == 500 * 2**20 and parse_size("10") == 10
    with pytest.raises(ValueError):
        parse_size("lots")
