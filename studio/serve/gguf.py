"""GGUF export: a run's merged weights, or a model folder, as one GGUF file (f16, bf16 or q8_0) for llama.cpp and
Ollama, with an Ollama Modelfile and the lines that run it.

Tensors are streamed: the file's header is written from shapes alone, then each tensor is read, converted and
written in turn, so memory holds the source (a folder's tensors are read one at a time from safetensors; a merged
adapter needs the merged model once) plus one converted tensor. The folder is written beside its destination and
renamed into place, with the same Replace rules as the other exports; a disk that fills up leaves nothing behind."""

from __future__ import annotations

import json
import shlex
import shutil
import time
from collections.abc import Callable
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from studio.core.errors import StudioError
from studio.core.messages import both
from studio.serve import gguf_arch
from studio.serve.export import (
    EXPORTING,
    MARKER,
    Exported,
    Say,
    check_target,
    disk_full,
    local_target,
    merged_model,
    public_name,
    swap_in,
)
from studio.serve.modelfile import ChatFormat, chat_format, jinja_template
from studio.serve.targets import ChatTarget

KINDS = ("f16", "bf16", "q8_0")
QUANTIZER_ONLY = ("q2_k", "q3_k_s", "q3_k_m", "q4_0", "q4_1", "q4_k_s", "q4_k_m", "q5_0", "q5_1", "q5_k_s", "q5_k_m",
                  "q6_k", "iq4_nl", "iq4_xs")  # llama.cpp's compiled quantizer makes these (K-quants and the rest)
INSTALL = "pip install gguf==0.19.0"
Progress = Callable[[int, int], None]  # bytes written, bytes in all
_MARGIN = 16 * 2**20  # free space kept beyond the estimate (metadata, padding, the file system's own)


def available() -> bool:
    import importlib.util

    return importlib.util.find_spec("gguf") is not None


def check_kind(kind: str) -> str:
    """One of KINDS; a type only llama.cpp's quantizer makes is refused with the command that makes it from an f16
    export."""
    kind = (kind or "").strip().lower() if isinstance(kind, str) else ""
    if kind in QUANTIZER_ONLY:
        raise StudioError("gguf.kquant", kind=kind.upper(), command=quantize_command("MODEL-f16.gguf", kind))
    if kind not in KINDS:
        raise StudioError("gguf.kind", kind=kind, kinds=", ".join(KINDS))
    if not available():
        raise StudioError("gguf.missing", command=INSTALL)
    return kind


def quantize_command(f16_file: str, kind: str) -> str:
    target = f16_file.replace("-f16.gguf", f"-{kind.upper()}.gguf")
    return shlex.join(["llama-quantize", f16_file, target, kind.upper()])


class _Tensors:
    """Tensors by name from a model folder's safetensors files (read one at a time) or from a model in memory."""

    def __init__(self, stack: ExitStack, folder: Path | None = None, model: Any = None) -> None:
        self.shapes: dict[str, tuple[int, ...]] = {}
        self._files: dict[str, Any] = {}
        self._state: dict[str, Any] = {}
        if model is not None:
            self._state = model.state_dict()
            self.shapes = {k: tuple(v.shape) for k, v in self._state.items()}
            return
        from safetensors import safe_open

        assert folder is not None
        for file in sorted(folder.glob("*.safetensors")):
            handle = stack.enter_context(safe_open(str(file), framework="pt"))
            for key in handle.keys():
                self._files[key] = handle
                self.shapes[key] = tuple(handle.get_slice(key).get_shape())
        if not self.shapes:
            raise StudioError("export.no_weights", folder=str(folder))

    def load(self, name: str) -> Any:
        import numpy as np

        tensor = self._state[name] if self._state else self._files[name].get_tensor(name)
        return tensor.detach().float().cpu().numpy().astype(np.float32, copy=False)


@dataclass(frozen=True)
class _Planned:
    source: str
    name: str
    shape: tuple[int, ...]
    qtype: Any  # gguf.GGMLQuantizationType

    @property
    def nbytes(self) -> int:
        import gguf

        return int(_prod(gguf.quant_shape_to_byte_shape(self.shape, self.qtype)))


def _prod(shape: tuple[int, ...]) -> int:
    out = 1
    for n in shape:
        out *= int(n)
    return out


def _plan(arch: gguf_arch.Arch, shapes: dict[str, tuple[int, ...]], kind: str) -> list[_Planned]:
    import gguf

    Q = gguf.GGMLQuantizationType
    wanted = {"f16": Q.F16, "bf16": Q.BF16, "q8_0": Q.Q8_0}[kind]
    plan = []
    for source, shape in shapes.items():
        name = gguf_arch.tensor_name(arch, source)
        if name is None:
            continue
        qtype = Q.F32 if len(shape) == 1 else wanted  # norms and biases stay f32, as llama.cpp keeps them
        if qtype == Q.Q8_0 and shape[-1] % 32:
            qtype = Q.F16  # q8_0 packs rows in blocks of 32
        plan.append(_Planned(source, name, shape, qtype))
    if not any(p.name == "token_embd.weight" for p in plan):
        raise StudioError("gguf.tensor", tensor="embed_tokens.weight", arch=arch.name)
    return plan


def _convert(array: Any, qtype: Any) -> Any:
    import gguf
    import numpy as np

    Q = gguf.GGMLQuantizationType
    if qtype == Q.F32:
        return array.astype(np.float32)
    if qtype == Q.F16:
        return array.astype(np.float16)
    return gguf.quants.quantize(array, qtype)


def write(path: Path, arch: gguf_arch.Arch, tensors: _Tensors, kind: str, tokenizer_meta: dict[str, Any],
          name: str, progress: Progress | None = None) -> int:
    """Write one GGUF file; returns its size in bytes."""
    import gguf
    import numpy as np

    plan = _plan(arch, tensors.shapes, kind)
    file_type = {"f16": gguf.LlamaFileType.MOSTLY_F16, "bf16": gguf.LlamaFileType.MOSTLY_BF16,
                 "q8_0": gguf.LlamaFileType.MOSTLY_Q8_0}[kind]
    writer = gguf.GGUFWriter(path=None, arch=arch.name)
    gguf_arch.add_model_metadata(writer, arch, name, int(file_type))
    gguf_arch.add_tokenizer_metadata(writer, **tokenizer_meta)
    writer.add_quantization_version(gguf.GGML_QUANT_VERSION)
    freqs = gguf_arch.rope_freqs(arch)
    if freqs is not None:
        writer.add_tensor_info("rope_freqs.weight", freqs.shape, np.dtype(np.float32), freqs.nbytes)
    for item in plan:
        byte_shape = gguf.quant_shape_to_byte_shape(item.shape, item.qtype)
        if item.qtype in (gguf.GGMLQuantizationType.F32, gguf.GGMLQuantizationType.F16):
            dtype = np.dtype(np.float32 if item.qtype == gguf.GGMLQuantizationType.F32 else np.float16)
            writer.add_tensor_info(item.name, item.shape, dtype, item.nbytes)
        else:
            writer.add_tensor_info(item.name, byte_shape, np.dtype(np.uint8), item.nbytes, raw_dtype=item.qtype)
    total, done = sum(p.nbytes for p in plan), 0
    try:
        writer.write_header_to_file(path=path)
        writer.write_kv_data_to_file()
        writer.write_ti_data_to_file()
        if freqs is not None:
            writer.write_tensor_data(freqs)
        for item in plan:
            data = _convert(gguf_arch.arrange(arch, item.name, tensors.load(item.source)), item.qtype)
            writer.write_tensor_data(data)
            done += item.nbytes
            del data
            if progress:
                progress(done, total)
        writer.flush()
    finally:
        writer.close()
    return path.stat().st_size


def estimate(arch: gguf_arch.Arch, shapes: dict[str, tuple[int, ...]], kind: str, meta: dict[str, Any]) -> int:
    """Bytes the file will take: its tensors (with alignment) and the metadata, the vocabulary and merges."""
    words = meta["words"]
    text = sum(len(t.encode()) + 12 for t in words.tokens) + sum(len(m.encode()) + 8 for m in words.merges)
    return sum(p.nbytes + 32 for p in _plan(arch, shapes, kind)) + text + len(meta["chat_template"]) + 2**16


def _tokenizer_meta(target: ChatTarget, vocab_size: int) -> tuple[dict[str, Any], ChatFormat]:
    """The vocabulary, the special ids (the template's stop token as EOS and EOT) and the chat template; a
    tokenizer without a Jinja template gets one written from the template the run was trained with."""
    from transformers import AutoTokenizer

    from studio.templates.registry import eos_id, make_template

    words = gguf_arch.vocab(Path(target.tokenizer), vocab_size)  # refused here before the tokenizer is loaded
    tokenizer = AutoTokenizer.from_pretrained(target.tokenizer)
    template = make_template(target.template, tokenizer)
    bos = tokenizer.bos_token_id
    add_bos = bos is not None and tokenizer("a")["input_ids"][:1] == [bos]
    if bos is None:  # llama.cpp would take its GPT-2 default (id 11, any token) as the templates' bos_token
        bos = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else tokenizer.eos_token_id
    fmt = chat_format(template, tokenizer, add_bos)
    chat_template = getattr(tokenizer, "chat_template", None)
    eos = eos_id(template, tokenizer)
    meta = {"words": words, "add_bos": add_bos,
            "ids": {"bos": bos, "eos": eos, "eot": eos, "pad": tokenizer.pad_token_id},
            "chat_template": chat_template if isinstance(chat_template, str) and chat_template
            else jinja_template(chat_format(template, tokenizer, False))}
    return meta, fmt


@dataclass
class GgufExported(Exported):
    gguf_file: str = ""
    source_size: int = 0


def export_gguf(target: ChatTarget, out: Path, kind: str, overwrite: bool = False, say: Say | None = None,
                name: str = "", progress: Progress | None = None) -> GgufExported:
    """Write `out`/NAME-KIND.gguf, a Modelfile and a README for the target's weights (an adapter merged first);
    one export at a time, as for the other exports."""
    with EXPORTING:
        return _export_gguf(target, out, kind, overwrite, say, name, progress)


def _export_gguf(target: ChatTarget, out: Path, kind: str, overwrite: bool, say: Say | None, name: str,
                 progress: Progress | None) -> GgufExported:
    from studio.core import hf
    from studio.model.info import check_remote_code
    from studio.serve.chat import quiet
    from studio.serve.modelfile import modelfile

    kind = check_kind(kind)
    hf.ready(with_peft=True)
    quiet()
    base_name = public_name(target.original or target.base)  # a hub id stays one in the README
    target = local_target(target)
    for folder in {target.tokenizer, target.base}:
        check_remote_code(folder, False)
    say = say or (lambda _: None)
    out = out.expanduser().resolve()
    check_target(out, overwrite)
    arch = gguf_arch.detect(Path(target.base))
    name = name or out.name
    started = time.perf_counter()
    with ExitStack() as stack:
        if target.adapter is not None:
            model = merged_model(target, say)  # one copy in memory; its tensors are converted one at a time
            tensors = _Tensors(stack, model=model)
        else:
            tensors = _Tensors(stack, folder=Path(target.base))
        embed = next((s for k, s in tensors.shapes.items() if k.endswith("embed_tokens.weight")), None)
        vocab_size = embed[0] if embed else int(arch.get("vocab_size") or 0)  # the rows the file must name
        meta, fmt = _tokenizer_meta(target, vocab_size)
        source_size = sum(f.stat().st_size for f in Path(target.base).glob("*.safetensors"))
        expected = estimate(arch, tensors.shapes, kind, meta)
        say(both("gguf.step_plan", kind=kind, source=_mb(source_size), size=_mb(expected)))
        out.parent.mkdir(parents=True, exist_ok=True)
        free = shutil.disk_usage(out.parent).free
        if free < expected + _MARGIN:
            raise StudioError("gguf.no_space", folder=str(out.parent), need=_mb(expected + _MARGIN), free=_mb(free))
        staging = out.with_name(f".{out.name}.partial-{time.time_ns()}")
        staging.mkdir()
        file = f"{name}.gguf" if name.endswith(f"-{kind}") else f"{name}-{kind}.gguf"
        try:
            say(both("gguf.step_write", file=file))
            size = write(staging / file, arch, tensors, kind, meta, name, progress)
            (staging / "Modelfile").write_text(modelfile(file, fmt), encoding="utf-8")
            serve, client = hints(out, file, name)
            card_lines, _ = hints(Path("."), file, name)  # the README travels (a push): no server paths in it
            (staging / "README.md").write_text(_card(target, base_name, kind, file, card_lines), encoding="utf-8")
            (staging / MARKER).write_text(json.dumps({"source": target.label or base_name, "gguf": kind}) + "\n",
                                          encoding="utf-8")
            for path in (staging, *staging.iterdir()):
                path.chmod(0o755 if path.is_dir() else 0o644)
            swap_in(staging, out)
        except BaseException as exc:
            shutil.rmtree(staging, ignore_errors=True)
            if disk_full(exc):
                raise StudioError("gguf.no_space", folder=str(out.parent), need=_mb(expected + _MARGIN),
                                  free=_mb(shutil.disk_usage(out.parent).free)) from None
            raise
    files = sorted(p.name for p in out.iterdir() if p.name != MARKER)
    total = sum(p.stat().st_size for p in out.iterdir() if p.is_file())
    say(both("gguf.step_done", out=str(out), size=_mb(size), source=_mb(source_size),
             seconds=f"{time.perf_counter() - started:.1f}"))
    return GgufExported(out, True, files, total, serve, client, gguf_file=file, source_size=source_size)


def _mb(n: int) -> str:
    return f"{n / 2**20:.1f}"


def hints(out: Path, file: str, name: str) -> tuple[str, str]:
    model = name.lower()
    serve = "\n".join([
        *([f"cd {shlex.quote(str(out))}"] if str(out) != "." else []),
        shlex.join(["ollama", "create", model, "-f", "Modelfile"]),
        shlex.join(["ollama", "run", model]),
        "# or llama.cpp's server (OpenAI-compatible, port 8080):",
        shlex.join(["llama-server", "-m", str(out / file), "--jinja"]),
        "# smaller files (K-quants such as Q4_K_M) come from an f16 export through llama.cpp's quantizer"
        + (":" if file.endswith("-f16.gguf") else "."),
        *([quantize_command(file, "q4_k_m")] if file.endswith("-f16.gguf") else []),
    ])
    client = (
        "from openai import OpenAI\n\n"
        'client = OpenAI(base_url="http://127.0.0.1:11434/v1", api_key="ollama")\n'
        f"reply = client.chat.completions.create(model={model!r}, "
        'messages=[{"role": "user", "content": "Who are you?"}])\n'
        "print(reply.choices[0].message.content)\n")
    return serve, client


def _card(target: ChatTarget, base_name: str, kind: str, file: str, serve: str) -> str:
    return (f"# {target.label or Path(target.base).name}\n\nGGUF ({kind}), base model "
            f"`{base_name}`, chat template `{target.template}` (in the file's metadata and in "
            f"the Modelfile).\n\n## Run\n\n```bash\n{serve}\n```\n")

