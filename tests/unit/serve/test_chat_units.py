"""Adapter-to-base shape checks from safetensors headers, progress relay, generation bounds, serving lines."""

import json
from pathlib import Path

import pytest
import torch
from safetensors.torch import save_file

from studio.core.errors import StudioError
from studio.model.adapter import check_adapter
from studio.serve.chat import GenSettings
from studio.serve.export import MARKER, check_target, serve_hints
from studio.ui.context import stepwise


def _model(folder: Path, hidden: int) -> Path:
    folder.mkdir()
    save_file({"model.layers.0.self_attn.q_proj.weight": torch.zeros(hidden, hidden)}, folder / "model.safetensors")
    return folder


def _adapter(folder: Path, hidden: int, base: str = "/somewhere/base") -> Path:
    folder.mkdir()
    prefix = "base_model.model.model.layers.0.self_attn.q_proj"
    save_file({f"{prefix}.lora_A.weight": torch.zeros(4, hidden), f"{prefix}.lora_B.weight": torch.zeros(hidden, 4)},
              folder / "adapter_model.safetensors")
    (folder / "adapter_config.json").write_text(json.dumps({"base_model_name_or_path": base, "r": 4}))
    return folder


@pytest.mark.bad_input
def test_adapter_shapes_must_fit_the_base(tmp_path: Path) -> None:
    adapter = _adapter(tmp_path / "a", 8)
    check_adapter(adapter, str(_model(tmp_path / "same", 8)))
    with pytest.raises(StudioError, match=r"does not fit .*q_proj: model weight 16x16.*trained on /somewhere/base"):
        check_adapter(adapter, str(_model(tmp_path / "wider", 16)))
    with pytest.raises(StudioError, match="base model .*missing-base is not found; .* expects /somewhere/base"):
        check_adapter(adapter, str(tmp_path / "missing-base"))
    (adapter / "adapter_model.safetensors").unlink()
    with pytest.raises(StudioError, match="holds no weights"):
        check_adapter(adapter, str(tmp_path / "same"))
    with pytest.raises(StudioError, match="is not a LoRA adapter"):
        check_adapter(tmp_path / "same", str(tmp_path / "same"))


def test_stepwise_relays_progress_then_result_or_error() -> None:
    def work(say):
        say("one")
        say("two")
        return 42

    steps = list(stepwise(work, poll_s=0.01))
    assert steps[-1] == (["one", "two"], 42, True) and all(not done for _, _, done in steps[:-1])

    def broken(say):
        say("start")
        raise StudioError("chat.empty")

    with pytest.raises(StudioError, match="Type a message first"):
        list(stepwise(broken, poll_s=0.01))


@pytest.mark.parametrize("field, value", [("max_new_tokens", 0), ("temperature", -0.1), ("top_p", 1.5),
                                          ("top_k", -1), ("repetition_penalty", 0.0), ("seed", -3)])
@pytest.mark.bad_input
def test_generation_settings_out_of_range(field: str, value: float) -> None:
    with pytest.raises(StudioError, match=f"^{field}: {value} is outside"):
        GenSettings(**{field: value}).check()


def test_export_target_rules_and_serving_lines(tmp_path: Path) -> None:
    check_target(tmp_path / "new", overwrite=False)
    (tmp_path / "full").mkdir()
    (tmp_path / "full" / "x").write_text("x")
    with pytest.raises(StudioError, match="exists and is not empty"):
        check_target(tmp_path / "full", overwrite=False)
    with pytest.raises(StudioError, match="not written by an export"):  # only an earlier export is replaced
        check_target(tmp_path / "full", overwrite=True)
    (tmp_path / "full" / MARKER).write_text("{}")
    check_target(tmp_path / "full", overwrite=True)
    command, client = serve_hints(Path("/out/my model"), "mine", merged=True)
    assert command == "vllm serve '/out/my model' --served-model-name mine" and "model='mine'" in client
    command, _ = serve_hints(Path("/out/a"), "a", merged=False, base="/m/base", rank=64)
    assert command == "vllm serve /m/base --enable-lora --lora-modules a=/out/a --max-lora-rank 64"


def test_local_model_never_reads_the_current_folder(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from studio.model.adapter import local_model

    (tmp_path / "owner" / "name").mkdir(parents=True)
    monkeypatch.chdir(tmp_path)
    assert local_model("owner/name") is None  # a hub id is looked up in the hub cache only
    assert local_model(str(tmp_path / "owner" / "name")) == tmp_path / "owner" / "name"
