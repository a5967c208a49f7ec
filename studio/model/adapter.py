"""A LoRA adapter folder and the base model it must fit, checked from safetensors headers before any weight is
read: Chat, Export, Evaluate and a run that starts from an earlier adapter all ask here."""

from __future__ import annotations

import json
from pathlib import Path

from studio.core.errors import StudioError
from studio.core.workspace import HUB_ID_RE
from studio.model.info import tensor_shapes

ADAPTER_WEIGHTS = "adapter_model.safetensors"
_PEFT_PREFIX = "base_model.model."


def local_model(name: str) -> Path | None:
    """A model folder on this machine (an absolute path: callers resolve theirs first, so nothing is looked up
    relative to the server's own folder), or a hub id already in the local cache."""
    path = Path(name).expanduser()
    if path.is_absolute():
        return path.resolve() if path.is_dir() else None
    if not HUB_ID_RE.fullmatch(name):
        return None  # a hub id is exactly owner/name
    try:
        from huggingface_hub import snapshot_download

        return Path(snapshot_download(name, local_files_only=True))
    except Exception:  # not cached: nothing is downloaded at chat time
        return None


def need_weights(folder: Path, expected: str) -> None:
    if not any(folder.glob("*.safetensors")):
        raise StudioError("chat.no_weights", folder=str(folder), expected=expected)


def check_adapter(adapter: Path, base: str) -> None:
    """The adapter's LoRA matrices must fit the base model's layers, or loading fails late or, worse, runs."""
    config_file = adapter / "adapter_config.json"
    if not config_file.exists():
        raise StudioError("chat.not_adapter", folder=str(adapter))
    need_weights(adapter, ADAPTER_WEIGHTS)
    try:
        expected = str(json.loads(config_file.read_text(encoding="utf-8")).get("base_model_name_or_path") or "?")
    except (OSError, ValueError):
        raise StudioError("chat.not_adapter", folder=str(adapter)) from None
    local = local_model(base)
    if local is None:
        raise StudioError("chat.base_missing", base=base, adapter=str(adapter), expected=expected)
    model_shapes = tensor_shapes(local)
    if not model_shapes:
        raise StudioError("chat.no_weights", folder=str(local), expected="model.safetensors")
    for name, shape in tensor_shapes(adapter).items():
        kind = "A" if name.endswith(".lora_A.weight") else "B" if name.endswith(".lora_B.weight") else ""
        if not kind or len(shape) != 2:
            continue  # DoRA magnitudes and embedding adapters carry no in/out pair to compare
        module = name.removeprefix(_PEFT_PREFIX).rsplit(".lora_", 1)[0]
        weight = next((model_shapes[n] for n in _saved_names(module) if n in model_shapes), None)
        fits = weight is not None and len(weight) == 2 and (
            weight[1] == shape[1] if kind == "A" else weight[0] == shape[0])
        if not fits:
            found = "absent" if weight is None else "x".join(map(str, weight))
            raise StudioError("chat.wrong_base", adapter=str(adapter), base=base, expected=expected,
                              layer=module, found=found)


# A vision-language model's checkpoint keeps its older tensor names; transformers renames them on load.
_RENAMED = (("model.language_model.", "model."), ("model.visual.", "visual."), ("model.vision_tower.", "visual."))


def _saved_names(module: str) -> list[str]:
    """The names a module's weight may have in a model folder: as loaded, and as an older checkpoint saved it."""
    return [f"{module}.weight"] + [f"{saved}{module[len(now):]}.weight" for now, saved in _RENAMED
                                   if module.startswith(now)]
