"""What a model folder says about itself: tokenizer (cached), context limit, and the chat format it expects."""

from __future__ import annotations

import json
import struct
from functools import lru_cache
from pathlib import Path
from typing import Any

from studio.core.errors import StudioError
from studio.templates.named import AUTO, TEMPLATES

TOKENIZER_FILES = ("tokenizer.json", "tokenizer_config.json", "special_tokens_map.json", "tokenizer.model",
                   "chat_template.jinja", "vocab.json", "merges.txt")


def fingerprint(folder: Path, names: tuple[str, ...] = TOKENIZER_FILES) -> tuple[tuple[str, int, int], ...]:
    """(name, size, mtime) of the files that define a tokenizer: changes when any of them does."""
    out = []
    for name in names:
        path = folder / name
        if path.exists():
            st = path.stat()
            out.append((name, st.st_size, st.st_mtime_ns))
    return tuple(out)


VISION_TYPES = ("qwen2_vl", "qwen2_5_vl")  # model types whose images the studio can train on
CODE_MAPS = ("config.json", "tokenizer_config.json", "processor_config.json", "preprocessor_config.json")


def auto_map_refs(folder: Path) -> list[tuple[str, str]]:
    """(file, class reference) for every `auto_map` entry: the code a model folder asks transformers to import."""
    refs = []
    for name in CODE_MAPS:
        try:
            data = json.loads((folder / name).read_text(encoding="utf-8"))
        except (OSError, ValueError):
            continue
        auto_map = data.get("auto_map") if isinstance(data, dict) else None
        for value in (auto_map.values() if isinstance(auto_map, dict) else ()):
            for ref in (value if isinstance(value, list) else [value]):
                if ref is not None:
                    refs.append((name, str(ref)))
    return refs


def check_remote_code(folder: Path | str, trust: bool) -> bool:
    """Before any from_pretrained: with trust on, every auto_map reference must be a module file inside the folder
    itself (no `repo--module.Class`, no file elsewhere); with trust off a folder that needs its code is refused
    here, so transformers never reaches it. Returns `trust` for the call."""
    folder = Path(folder)
    if not folder.is_dir():
        if not trust:
            return trust  # a hub id with model code off: transformers refuses or uses its own classes
        snapshot = _cached_snapshot(str(folder))  # its code is checked like a folder's, so it must be here
        if snapshot is None:
            raise StudioError("config.remote_code_hub", path=str(folder))
        folder = snapshot
    root = folder.resolve()
    for file, ref in auto_map_refs(folder):
        if not trust:
            if model_config(folder).get("model_type") in _known_types():
                continue  # transformers uses its own class and ignores the mapped code
            raise StudioError("config.remote_code_off", path=str(folder), file=file)
        module = ref.rsplit(".", 1)[0]
        code = (folder / f"{module}.py").resolve()
        if "--" in ref or "/" in module or "\\" in module or code.parent != root or not code.is_file():
            raise StudioError("config.remote_code_outside", path=str(folder), file=file, ref=ref[:200])
    return trust


def _cached_snapshot(name: str) -> Path | None:
    try:
        from huggingface_hub import snapshot_download

        return Path(snapshot_download(name, local_files_only=True))
    except Exception:  # not in the cache (or not a hub id): nothing is downloaded here
        return None


def _known_types() -> set[str]:
    from transformers.models.auto.configuration_auto import CONFIG_MAPPING_NAMES

    return set(CONFIG_MAPPING_NAMES)


@lru_cache(maxsize=8)
def _cached(path: str, stamp: tuple, trust_remote_code: bool) -> Any:
    from studio.core import hf

    hf.ready()
    check_remote_code(path, trust_remote_code)
    from transformers import AutoTokenizer

    try:
        return AutoTokenizer.from_pretrained(path, local_files_only=True, trust_remote_code=trust_remote_code)
    except (OSError, ValueError) as exc:
        raise StudioError("data.tokenizer", path=path, detail=str(exc).splitlines()[0][:160]) from None


def load_tokenizer(path: Path | str, trust_remote_code: bool = False) -> Any:
    """The folder's tokenizer, loaded once per version of its files (callers must not modify it)."""
    return _cached(str(path), fingerprint(Path(path)), trust_remote_code)


def model_config(path: Path) -> dict[str, Any]:
    try:
        return json.loads((path / "config.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}


def media_inputs(path: Path) -> set[str]:
    """Which media a model folder reads besides text and the studio can train on: images for the Qwen2-VL family."""
    return {"images"} if str(model_config(path).get("model_type", "")) in VISION_TYPES else set()


def context_limit(path: Path) -> int | None:
    """The longest sequence the model's positions cover, from config.json; None when it does not say."""
    cfg = model_config(path)
    cfg = cfg.get("text_config", cfg)
    value = cfg.get("max_position_embeddings") or cfg.get("n_positions")
    return int(value) if isinstance(value, int) and value > 0 else None


def single_token(tokenizer: Any, token: str) -> bool:
    return len(tokenizer.encode(token, add_special_tokens=False)) == 1 and token in tokenizer.get_vocab()


def propose_template(path: Path, tokenizer: Any) -> tuple[str, str]:
    """(template, why): a known model family's own template, else `auto` when there is a chat template."""
    model_type = str(model_config(path).get("model_type", ""))
    for template in TEMPLATES.values():
        if model_type in template.families:
            return template.name, "family"
    if model_type == "llama" and single_token(tokenizer, "<|eot_id|>"):
        return "llama3", "family"
    if single_token(tokenizer, "<|im_start|>") and single_token(tokenizer, "<|im_end|>"):
        return "chatml", "tokens"
    if isinstance(getattr(tokenizer, "chat_template", None), str):
        return AUTO, "chat_template"
    return "default", "none"


def tensor_shapes(model: Path) -> dict[str, list[int]]:
    """Every tensor's shape from the safetensors headers (8-byte length, then JSON), no weights read."""
    shapes: dict[str, list[int]] = {}
    for path in sorted(model.glob("*.safetensors")):
        with open(path, "rb") as fh:
            (size,) = struct.unpack("<Q", fh.read(8))
            header = json.loads(fh.read(size))
        shapes |= {name: meta["shape"] for name, meta in header.items() if name != "__metadata__"}
    return shapes
