"""Export for serving: the adapter alone, or the adapter merged into its base as a standard Hugging Face folder
(sharded safetensors, config, tokenizer with its chat template, generation config that stops on the template's
stop tokens, a model card saying how to serve it).

Everything is written into a hidden sibling folder first and renamed into place at the end, so an export that
fails or is killed leaves no half-written folder, and an existing one is replaced only when asked to."""

from __future__ import annotations

import errno
import json
import re
import shlex
import shutil
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from studio.core.errors import StudioError
from studio.core.messages import Both, both
from studio.core.workspace import Workspace, check_name, check_text
from studio.model.adapter import ADAPTER_WEIGHTS
from studio.serve.targets import ChatTarget

Say = Callable[[Both], None]
ADAPTER_FILES = ("adapter_config.json", ADAPTER_WEIGHTS)
MARKER = ".studio-export"  # written into every export: only a folder holding it may be replaced
EXPORTING = threading.Lock()
_LEFTOVER = re.compile(r"\.(?P<name>.+)\.(?P<kind>partial|old)-\d+")


@dataclass
class Exported:
    out: Path
    merged: bool
    files: list[str]
    size: int
    serve: str  # the vllm command line
    client: str  # a minimal OpenAI-client snippet


def local_target(target: ChatTarget) -> ChatTarget:
    """The target with a hub id (a run trained on a downloaded model) replaced by its snapshot in the HF cache:
    an export reads files, and nothing is downloaded while exporting."""
    import dataclasses

    from studio.model.adapter import local_model

    def local(name: str) -> str:
        found = local_model(name)
        if found is None:
            raise StudioError("chat.model_missing", model=name)
        return str(found)

    return dataclasses.replace(target, base=local(target.base), tokenizer=local(target.tokenizer))


def public_name(model: str) -> str:
    """How a README names a model: a hub id as it is, a local folder by its name (not the server's paths)."""
    return Path(model).name if Path(model).is_absolute() else model


def check_target(out: Path, overwrite: bool) -> None:
    """An existing, non-empty folder is replaced only with `overwrite`, and only when an export wrote it;
    a file in the way never."""
    if out.exists() and not out.is_dir():
        raise StudioError("export.not_folder", out=str(out))
    if out.is_dir() and any(out.iterdir()):
        if not overwrite:
            raise StudioError("export.not_empty", out=str(out))
        if not (out / MARKER).is_file():
            raise StudioError("export.not_export", out=str(out))


def browser_target(ws: Workspace, folder: str) -> Path:
    """Where a browser may export: one named folder directly under the workspace's exports/ ("NAME" or
    "exports/NAME")."""
    text = check_text(folder or "", "export folder").strip()
    root = ws.exports_dir
    root.mkdir(parents=True, exist_ok=True)
    root = root.resolve()
    parts = Path(text).parts
    if parts[:1] == ("exports",):
        parts = parts[1:]
    if len(parts) != 1 or parts[0] in (".", "..") or Path(text).is_absolute():
        raise StudioError("export.outside", out=text, root=str(root))
    out = (root / check_name(parts[0], "export folder")).resolve()
    if out.parent != root:  # a symlink placed in exports/ is not followed out of it
        raise StudioError("export.outside", out=text, root=str(root))
    return out


def exports(ws: Workspace) -> list[str]:
    """The finished exports under exports/, by name (what the Models tab offers to push)."""
    root = ws.exports_dir
    found = root.iterdir() if root.is_dir() else ()
    return sorted(p.name for p in found if not p.is_symlink() and (p / MARKER).is_file())


def pushable(ws: Workspace, name: str) -> Path:
    """An export a browser may push: a folder directly under exports/ that an export wrote."""
    folder = browser_target(ws, name)
    if not (folder / MARKER).is_file():
        raise StudioError("hub.not_export", folder=name or "?")
    return folder


def recover(exports_dir: Path) -> list[str]:
    """After a crash: half-written exports are removed, and a replaced export whose successor never arrived is
    put back. Returns what was done, one line each (the server logs them at start)."""
    done: list[str] = []
    if not exports_dir.is_dir():
        return done
    for leftover in sorted(exports_dir.iterdir()):
        match = _LEFTOVER.fullmatch(leftover.name)
        if not match or not leftover.is_dir() or leftover.is_symlink():
            continue
        target = leftover.with_name(match["name"])
        if match["kind"] == "old" and not target.exists():
            leftover.rename(target)
            done.append(f"restored {target.name} (its replacement did not finish)")
        else:
            shutil.rmtree(leftover, ignore_errors=True)
            done.append(f"removed {leftover.name}")
    return done


def serve_hints(out: Path, name: str, merged: bool, base: str = "", rank: int = 0,
                vision: bool = False) -> tuple[str, str]:
    if merged:
        command = shlex.join(["vllm", "serve", str(out), "--served-model-name", name])
    else:
        command = shlex.join(["vllm", "serve", base, "--enable-lora", "--lora-modules", f"{name}={out}",
                              "--max-lora-rank", str(max(16, rank))])
    if vision:  # a local picture goes as a base64 data URL in an image_url content part
        client = (
            "import base64\n\nfrom openai import OpenAI\n\n"
            'client = OpenAI(base_url="http://127.0.0.1:8000/v1", api_key="EMPTY")\n'
            'with open("picture.png", "rb") as f:\n'
            '    url = "data:image/png;base64," + base64.b64encode(f.read()).decode()\n'
            f"reply = client.chat.completions.create(model={name!r}, messages=[{{\"role\": \"user\", \"content\": [\n"
            '    {"type": "image_url", "image_url": {"url": url}},\n'
            '    {"type": "text", "text": "What colour is the shape?"}]}])\n'
            "print(reply.choices[0].message.content)\n")
        return command, client
    client = (
        "from openai import OpenAI\n\n"
        'client = OpenAI(base_url="http://127.0.0.1:8000/v1", api_key="EMPTY")\n'
        f"reply = client.chat.completions.create(model={name!r}, "
        'messages=[{"role": "user", "content": "Who are you?"}])\n'
        "print(reply.choices[0].message.content)\n")
    return command, client


def _stop_ids(tokenizer: Any, template_name: str) -> list[int]:
    from studio.templates.registry import eos_id, make_template

    template = make_template(template_name, tokenizer)
    ids = {eos_id(template, tokenizer), tokenizer.eos_token_id,
           *map(tokenizer.convert_tokens_to_ids, template.stop_words)}
    return sorted(i for i in ids if isinstance(i, int) and i != tokenizer.unk_token_id)


def _tokenizer(target: ChatTarget, folder: Path) -> Any:
    from transformers import AutoTokenizer

    from studio.templates.named import CHATML_JINJA

    tokenizer = AutoTokenizer.from_pretrained(target.tokenizer)
    if not getattr(tokenizer, "chat_template", None) and target.template == "chatml":
        tokenizer.chat_template = CHATML_JINJA  # serving stacks read the format from here
    tokenizer.save_pretrained(folder)
    return tokenizer


def _processor_files(target: ChatTarget, folder: Path) -> bool:
    """A vision model's image processor settings beside the tokenizer, so that AutoProcessor rebuilds the whole
    processor from the folder (the run's own copy first, else the base model's). True for a vision model."""
    from studio.model.vision import sees_images

    if not sees_images(target.base):
        return False
    for source in (Path(target.tokenizer), Path(target.base)):
        if (source / "preprocessor_config.json").exists():
            shutil.copy2(source / "preprocessor_config.json", folder / "preprocessor_config.json")
            break
    return True


def merged_model(target: ChatTarget, say: Say) -> Any:
    import torch
    from transformers import AutoModelForCausalLM, AutoModelForImageTextToText

    from studio.model.vision import sees_images

    say(both("export.step_base", path=target.base))
    config = json.loads((Path(target.base) / "config.json").read_text(encoding="utf-8"))
    stored = getattr(torch, str(config.get("dtype") or config.get("torch_dtype") or "float32"), torch.float32)
    auto = AutoModelForImageTextToText if sees_images(target.base) else AutoModelForCausalLM
    model = auto.from_pretrained(target.base, dtype=torch.float32, use_safetensors=True)
    if target.adapter:
        from peft import PeftModel

        say(both("export.step_merge", path=str(target.adapter)))
        model = PeftModel.from_pretrained(model, str(target.adapter)).merge_and_unload()  # in fp32, then cast
    return model.to(stored if isinstance(stored, torch.dtype) else torch.float32)


def _generation_config(model: Any, tokenizer: Any, template: str, folder: Path) -> None:
    from transformers import GenerationConfig

    config = model.generation_config if getattr(model, "generation_config", None) else \
        GenerationConfig.from_model_config(model.config)
    config.eos_token_id = _stop_ids(tokenizer, template)
    config.pad_token_id = tokenizer.pad_token_id
    config.save_pretrained(folder)


def _card(target: ChatTarget, base_name: str, merged: bool, command: str, client: str) -> str:
    kind = "merged model" if merged else "LoRA adapter"
    return (f"# {target.label or Path(target.base).name}\n\n{kind}; base model `{base_name}`; "
            f"chat template `{target.template}`.\n\n## Serve\n\n```bash\n{command}\n```\n\n"
            f"```python\n{client}```\n")


def export(target: ChatTarget, out: Path, merge: bool, overwrite: bool = False, say: Say | None = None,
           max_shard_size: str = "2GB", name: str = "") -> Exported:
    """Write the export to `out`; `merge` is implied for a full / freeze run (it has no adapter). One export runs at
    a time in a process: model loads in parallel threads are not safe together, and two exports to one folder
    would each pass the Replace check before either wrote."""
    with EXPORTING:
        return _export(target, out, merge, overwrite, say, max_shard_size, name)


def _export(target: ChatTarget, out: Path, merge: bool, overwrite: bool = False, say: Say | None = None,
            max_shard_size: str = "2GB", name: str = "") -> Exported:
    from studio.core import hf
    from studio.model.info import check_remote_code
    from studio.serve.chat import quiet

    hf.ready(with_peft=True)
    quiet()
    base_name = public_name(target.original or target.base)  # a hub id stays one in the README
    target = local_target(target)
    for folder in {target.tokenizer, target.base}:  # export never runs model code: said here, not mid-write
        check_remote_code(folder, False)
    say = say or (lambda _: None)
    out = out.expanduser().resolve()
    check_target(out, overwrite)
    merged = merge or target.adapter is None
    name = name or out.name
    started = time.perf_counter()
    out.parent.mkdir(parents=True, exist_ok=True)
    staging = out.with_name(f".{out.name}.partial-{time.time_ns()}")
    staging.mkdir()
    try:
        if merged:
            model = merged_model(target, say)
            say(both("export.step_write", shard=max_shard_size))
            model.save_pretrained(staging, max_shard_size=max_shard_size)
        else:
            model = None
            for file in ADAPTER_FILES:
                shutil.copy2(target.adapter / file, staging / file)  # type: ignore[operator]
        say(both("export.step_tokenizer"))
        tokenizer = _tokenizer(target, staging)
        vision = _processor_files(target, staging)
        if model is not None:
            _generation_config(model, tokenizer, target.template, staging)
        rank = 0
        if not merged:
            rank = int(json.loads((staging / "adapter_config.json").read_text(encoding="utf-8")).get("r", 0))
        command, client = serve_hints(out, name, merged, target.base, rank, vision)
        shown, _ = serve_hints(Path(out.name), name, merged, base_name, rank, vision)  # the README travels (a push)
        (staging / "README.md").write_text(_card(target, base_name, merged, shown, client), encoding="utf-8")
        (staging / MARKER).write_text(json.dumps({"source": target.describe()}, ensure_ascii=False) + "\n",
                                      encoding="utf-8")
        for path in (staging, *staging.rglob("*")):  # a server running as another user reads them (weights
            path.chmod(0o755 if path.is_dir() else 0o644)  # arrive 0600 from their temporary files)
        swap_in(staging, out)
    except BaseException as exc:
        shutil.rmtree(staging, ignore_errors=True)
        if disk_full(exc):  # said, and nothing half-written is left
            raise StudioError("export.no_space", folder=str(out.parent),
                              free=f"{shutil.disk_usage(out.parent).free / 2**20:.1f}") from None
        raise
    files = sorted(p.name for p in out.iterdir() if p.name != MARKER)
    size = sum(p.stat().st_size for p in out.iterdir() if p.is_file())
    say(both("export.step_done", out=str(out), files=len(files), mb=f"{size / 2**20:.1f}",
               seconds=f"{time.perf_counter() - started:.1f}"))
    return Exported(out, merged, files, size, command, client)


def disk_full(exc: BaseException) -> bool:
    """ENOSPC, as Python raises it or as safetensors' writer reports it (its own error type, errno in the text)."""
    if isinstance(exc, OSError):
        return exc.errno == errno.ENOSPC
    return type(exc).__name__ == "SafetensorError" and "os error 28" in str(exc)


def swap_in(staging: Path, out: Path) -> None:
    """Rename the finished folder into place; an old one (replacing was allowed) goes only after that. A crash
    between the two renames leaves the old one under its hidden name, which `recover` puts back."""
    old = None
    if out.exists():
        old = out.with_name(f".{out.name}.old-{time.time_ns()}")
        out.rename(old)
    staging.rename(out)
    if old is not None:
        shutil.rmtree(old, ignore_errors=True)
