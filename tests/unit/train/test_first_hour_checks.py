"""Checks made before a launch: media a text-only model cannot see, hub ids that cannot be fetched here; the
worker's download failure as one sentence; the demo build's progress file."""

import json
from pathlib import Path

import pytest

from studio.core.config import from_dict
from studio.core.errors import StudioError
from studio.core.hf import hub_issue
from studio.core.workspace import Workspace
from studio.data.conversation import Conversation, Turn
from studio.data.registry import register
from studio.encode.encoder import Encoder, Options
from studio.model.info import load_tokenizer
from studio.model.load import fetch_errors
from studio.templates.registry import make_template
from studio.train.checks import check_environment
from studio.train.demo import create_model

FIXTURES = Path(__file__).parents[2] / "fixtures"


def _media_dataset(ws: Workspace) -> str:
    (ws.data_dir / "mllm_demo.json").write_bytes((FIXTURES / "mllm_demo.json").read_bytes())
    register(ws.registry_file, "mllm", {"file_name": "mllm_demo.json", "formatting": "sharegpt",
                                        "columns": {"messages": "messages", "images": "images"},
                                        "tags": {"role_tag": "role", "content_tag": "content",
                                                 "user_tag": "user", "assistant_tag": "assistant"}})
    return "mllm"


@pytest.mark.bad_input
def test_images_for_a_text_only_model_are_refused_unless_text_only(ws: Workspace) -> None:
    name = _media_dataset(ws)
    cfg, _ = from_dict({"dataset": name}, "test")
    refused = [i for i in check_environment(cfg, ws) if i.level == "error"]
    assert [i.key for i in refused] == ["config.media_unseen"]
    assert "images" in refused[0].text() and "text_only" in refused[0].text() and "图片" not in refused[0].text()
    cfg, _ = from_dict({"dataset": name, "text_only": True}, "test")
    issues = check_environment(cfg, ws)
    assert not [i for i in issues if i.level == "error"]
    assert [i.key for i in issues if i.level == "warning"] == ["config.media_text_only"]


def test_text_only_encoding_has_no_placeholder(demo_model: Path) -> None:
    tok = load_tokenizer(demo_model)
    conv = Conversation(turns=(Turn("user", "<image>What is in the picture?"), Turn("assistant", "A cat.")),
                        images=("cat.png",))
    with_media = Encoder(make_template("chatml", tok), tok, Options(cutoff_len=256)).encode(conv)
    text = Encoder(make_template("chatml", tok), tok, Options(cutoff_len=256, text_only=True)).encode(conv)
    assert "<image>" in tok.decode(with_media.input_ids)
    assert "<image>" not in tok.decode(text.input_ids) and "What is in the picture?" in tok.decode(text.input_ids)


@pytest.mark.bad_input
def test_hub_id_offline_is_said_before_launch_and_a_cached_one_passes(ws: Workspace, tmp_path: Path) -> None:
    assert hub_issue("someone/not-cached")[0] == "config.model_hub_offline"  # HF_HUB_OFFLINE=1 in every test
    cfg, _ = from_dict({"model_name_or_path": "someone/not-cached"}, "test")
    issue = next(i for i in check_environment(cfg, ws) if i.field == "model_name_or_path")
    assert "not in this machine's Hugging Face cache" in issue.text() and "HF_HUB_OFFLINE=1" in issue.text()
    # a snapshot in the cache (the layout huggingface_hub writes) is enough
    repo = Path(__import__("os").environ["HF_HOME"]) / "hub" / "models--someone--cached"
    (repo / "snapshots" / "abc123").mkdir(parents=True)
    (repo / "snapshots" / "abc123" / "config.json").write_text("{}")
    (repo / "refs").mkdir()
    (repo / "refs" / "main").write_text("abc123")
    assert hub_issue("someone/cached") is None


@pytest.mark.bad_input
def test_a_failed_download_in_the_worker_is_one_sentence(ws: Workspace) -> None:
    cfg, _ = from_dict({"model_name_or_path": "someone/missing"}, "test")
    with pytest.raises(StudioError) as caught, fetch_errors(cfg, ws):
        raise OSError("We couldn't connect to 'https://huggingface.co' to load the files.\nCheck your connection.")
    assert caught.value.key == "run.model_fetch"
    assert caught.value.text() == ("The model 'someone/missing' could not be read or downloaded: We couldn't "
                                   "connect to 'https://huggingface.co' to load the files.")
    local, _ = from_dict({"model_name_or_path": "models/demo-tiny"}, "test")
    with pytest.raises(OSError), fetch_errors(local, ws):  # a local folder's error is not a download's
        raise OSError("disk")


def test_demo_build_writes_its_progress(tmp_path: Path) -> None:
    seen = []
    progress = tmp_path / "progress.json"

    import studio.train.demo as demo

    original = demo._progress_writer

    def spy(path):
        write = original(path)

        def both(stage, step, total):
            write(stage, step, total)
            seen.append(json.loads(progress.read_text()))
        return both

    demo._progress_writer = spy
    try:
        create_model(tmp_path / "m", warmup_steps=20, progress=progress)
    finally:
        demo._progress_writer = original
    stages = [s["stage"] for s in seen]
    assert stages[0] == "tokenizer" and stages[-1] == "save"
    assert [s["step"] for s in seen if s["stage"] == "warmup"] == [0, 5, 10, 15, 20]
    assert (tmp_path / "m" / "model.safetensors").exists()
