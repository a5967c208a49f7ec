"""What Chat and Export load: a run's final weights or one of its checkpoints, or a model folder with an optional
adapter. Each is checked against its base model from safetensors headers before any weight is read, so a wrong
or missing base, or a checkpoint without weights, is one sentence instead of a traceback halfway through a load."""

from __future__ import annotations

import dataclasses
import re
from dataclasses import dataclass
from pathlib import Path

from studio.core.errors import StudioError
from studio.core.rundir import ADAPTER_DIR, CONFIG_FILE, MODEL_DIR, checkpoints
from studio.core.workspace import Workspace
from studio.model.adapter import check_adapter, local_model, need_weights

FINAL = "final"


@dataclass(frozen=True)
class ChatTarget:
    base: str  # the model loaded first: a folder or a hub id
    adapter: Path | None  # a LoRA folder applied on top, or None
    template: str
    tokenizer: str  # the folder whose tokenizer encodes the prompt
    original: str = ""  # for a full / freeze model: the model it was trained from (the base side of Compare)
    label: str = ""  # what the page shows
    backend: str = "transformers"  # or "unsloth", where installed on a GPU machine
    image_pixels: tuple[int, int] = (768 * 768, 32 * 32)  # a vision run's image_max_pixels, image_min_pixels
    start: Path | None = None  # the adapter the run started from (an SFT run's, before DPO): Compare's middle side

    def describe(self) -> str:
        weights = self.base + (f" + {self.adapter}" if self.adapter else "")
        return f"{self.label} ({weights})" if self.label else weights


def weight_choices(ws: Workspace, run_id: str) -> list[str]:
    """`final` when the run saved its output, then its complete checkpoints, newest first."""
    from studio.runs.manage import get_run

    path = get_run(ws, run_id).path
    final = [FINAL] if (path / ADAPTER_DIR).is_dir() or (path / MODEL_DIR).is_dir() else []
    return final + [c.name for c in reversed(checkpoints(path))]


def chat_runs(ws: Workspace) -> list[str]:
    """Runs with anything to chat with (final weights or a checkpoint), newest first."""
    from studio.runs.manage import list_runs

    return [r.run_id for r in list_runs(ws) if weight_choices(ws, r.run_id)]


def run_target(ws: Workspace, run_id: str, which: str = FINAL) -> ChatTarget:
    """The run's base model, the chosen weights on top, and the template it was trained with."""
    from studio.core import config as cfgmod
    from studio.model.load import model_path
    from studio.runs.manage import get_run

    info = get_run(ws, run_id)
    cfg = cfgmod.load(info.path / CONFIG_FILE)
    base = model_path(cfg, ws)
    if which == FINAL:
        folder = next((info.path / d for d in (ADAPTER_DIR, MODEL_DIR) if (info.path / d).is_dir()), None)
        if folder is None:
            raise StudioError("run.no_adapter", run=run_id)
    elif re.fullmatch(r"checkpoint-\d+", which or ""):
        folder = info.path / which
        if not folder.is_dir():
            raise StudioError("chat.no_checkpoint", run=run_id, checkpoint=which)
    else:
        raise StudioError("chat.bad_weights", value=which)
    label = f"{run_id} · {which}"
    own_tokenizer = (folder / "tokenizer_config.json").exists()
    pixels = (cfg.image_max_pixels, cfg.image_min_pixels)  # pictures are sized as the run saw them
    if (folder / "adapter_config.json").exists():
        check_adapter(folder, base)
        start = ws.root / cfg.adapter_name_or_path if cfg.adapter_name_or_path else None
        start = start if start is not None and (start / "adapter_config.json").exists() else None
        return ChatTarget(base, folder, cfg.template, str(folder) if own_tokenizer else base, label=label,
                          image_pixels=pixels, start=start)
    need_weights(folder, "model.safetensors")
    return ChatTarget(str(folder), None, cfg.template, str(folder) if own_tokenizer else base, original=base,
                      label=label, image_pixels=pixels)


def model_target(ws: Workspace, model: str, adapter: str = "", template: str = "chatml",
                 from_browser: bool = False) -> ChatTarget:
    """A model folder (or, from the command line, a hub id) with an optional adapter folder."""
    model, adapter = model or "", adapter or ""
    if not model.strip():
        raise StudioError("chat.no_model")
    if from_browser:  # a browser names folders under the model roots (or a cached hub id), nothing else
        base = ws.browser_model(model)
        adapter_dir = Path(ws.browser_model(adapter, "adapter")) if adapter.strip() else None
        if adapter_dir is not None and not adapter_dir.is_absolute():
            raise StudioError("chat.not_adapter", folder=adapter.strip())
    else:  # the command line: a path as given when it exists, else relative to the workspace
        base = model.strip()
        if ws.cli_path(base).is_dir():  # else perhaps a hub id in the local cache
            base = str(ws.cli_path(base))
        adapter_dir = ws.cli_path(adapter.strip()) if adapter.strip() else None
    local = local_model(base)
    if local is None:
        raise StudioError("chat.model_missing", model=base)
    base = str(local)
    if adapter_dir is not None:
        check_adapter(adapter_dir, base)
    else:
        need_weights(local, "model.safetensors")
    tokenizer = str(adapter_dir) if adapter_dir and (adapter_dir / "tokenizer_config.json").exists() else base
    return ChatTarget(base, adapter_dir, template, tokenizer)


def page_target(ws: Workspace, choice: str, run_id: str | None, which: str | None, model: str | None,
                adapter: str | None, template: str, backend: str | None) -> ChatTarget:
    """What the Chat tab's Load asks for: a run and its weights, or a model folder (fenced, as a browser names it)."""
    if choice == "run":
        if not run_id:
            raise StudioError("chat.no_model")
        target = run_target(ws, run_id, which or FINAL)
    else:
        target = model_target(ws, model or "", adapter or "", template, from_browser=True)
    return dataclasses.replace(target, backend=backend or "transformers")
