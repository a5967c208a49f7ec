"""What a Hugging Face folder becomes in a GGUF file: llama.cpp's architecture name, its metadata keys, each tensor's
GGUF name (and the Q/K row order llama.cpp's Llama kernels expect), and the tokenizer as GGUF vocabulary.

Only the architectures the studio trains are mapped, each checked tensor by tensor: a name this mapping does not
know is refused with a sentence rather than dropped, since a GGUF missing a tensor fails only when it is loaded."""

from __future__ import annotations

import json
import math
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from studio.core.errors import StudioError

# config.json model_type -> (llama.cpp architecture, Q/K permuted)
ARCHES: dict[str, tuple[str, bool]] = {
    "llama": ("llama", True),
    "mistral": ("llama", True),
    "qwen2": ("qwen2", False),
    "qwen3": ("qwen3", False),
    # the language part only: for text, Qwen2-VL's multimodal rotary positions are the same in all three
    # sections, which is plain rotary embedding, so it runs as qwen2
    "qwen2_vl": ("qwen2", False),
}
PREFIXES = ("model.language_model.", "model.")  # the language model's tensors, in either checkpoint layout
SKIPPED_PREFIXES = ("visual.", "model.visual.")  # a vision tower: llama.cpp reads it from a separate projector
_LAYER = re.compile(r"layers\.(\d+)\.(.+)")
_LAYER_NAMES = {
    "input_layernorm.weight": "attn_norm.weight",
    "self_attn.q_proj.weight": "attn_q.weight", "self_attn.q_proj.bias": "attn_q.bias",
    "self_attn.k_proj.weight": "attn_k.weight", "self_attn.k_proj.bias": "attn_k.bias",
    "self_attn.v_proj.weight": "attn_v.weight", "self_attn.v_proj.bias": "attn_v.bias",
    "self_attn.o_proj.weight": "attn_output.weight",
    "self_attn.q_norm.weight": "attn_q_norm.weight", "self_attn.k_norm.weight": "attn_k_norm.weight",
    "post_attention_layernorm.weight": "ffn_norm.weight",
    "mlp.gate_proj.weight": "ffn_gate.weight", "mlp.up_proj.weight": "ffn_up.weight",
    "mlp.down_proj.weight": "ffn_down.weight",
}
_TOP_NAMES = {"embed_tokens.weight": "token_embd.weight", "norm.weight": "output_norm.weight"}

# tokenizer.json pre-tokenizers llama.cpp reproduces, by the regex they split with (None: ByteLevel's own)
_QWEN2_SPLIT = (r"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+"
                r"|\s+(?!\S)|\s+")
_LLAMA3_SPLIT = _QWEN2_SPLIT.replace(r"|\p{N}|", r"|\p{N}{1,3}|")
PRE_TOKENIZERS = {None: "gpt-2", _QWEN2_SPLIT: "qwen2", _LLAMA3_SPLIT: "llama-bpe"}
NORMAL, CONTROL, USER_DEFINED, UNUSED = 1, 3, 4, 5  # llama.cpp's token types


@dataclass(frozen=True)
class Arch:
    name: str  # llama.cpp's
    permute_qk: bool
    config: dict[str, Any]  # the language model's config (a vision model's text_config merged in)

    def get(self, key: str, default: Any = None) -> Any:
        return self.config.get(key, default)

    @property
    def heads(self) -> tuple[int, int]:
        heads = int(self.get("num_attention_heads"))
        return heads, int(self.get("num_key_value_heads") or heads)

    @property
    def head_dim(self) -> int:
        return int(self.get("head_dim") or self.get("hidden_size") // self.heads[0])

    @property
    def rope(self) -> dict[str, Any]:
        """rope_theta and scaling, whichever way the config spells them (transformers 5: rope_parameters)."""
        params = dict(self.get("rope_parameters") or {})
        params.update({k: v for k, v in (self.get("rope_scaling") or {}).items() if v is not None})
        params.setdefault("rope_theta", self.get("rope_theta", 10000.0))
        params["rope_type"] = params.get("rope_type") or params.get("type") or "default"
        return params


def detect(folder: Path) -> Arch:
    """The architecture of a model folder, refused with the supported names when GGUF export does not map it."""
    config = json.loads((folder / "config.json").read_text(encoding="utf-8"))
    model_type = str(config.get("model_type", ""))
    if model_type not in ARCHES:
        raise StudioError("gguf.arch", arch=model_type or "?", supported=", ".join(ARCHES))
    name, permute = ARCHES[model_type]
    text = {**config, **(config.get("text_config") or {})}
    arch = Arch(name, permute, text)
    if arch.rope["rope_type"] not in ("default", "linear", "llama3", "yarn"):
        raise StudioError("gguf.rope", kind=arch.rope["rope_type"], supported="default, linear, llama3, yarn")
    return arch


def tensor_name(arch: Arch, hf_name: str) -> str | None:
    """The GGUF name of one tensor; None for one deliberately left out (tied head, vision tower)."""
    if hf_name.startswith(SKIPPED_PREFIXES) or hf_name.endswith("rotary_emb.inv_freq"):
        return None
    if hf_name == "lm_head.weight":
        return None if arch.get("tie_word_embeddings") else "output.weight"
    prefix = next((p for p in PREFIXES if hf_name.startswith(p)), None)
    if prefix is not None:
        rest = hf_name[len(prefix):]
        if rest in _TOP_NAMES:
            return _TOP_NAMES[rest]
        layer = _LAYER.fullmatch(rest)
        if layer and layer[2] in _LAYER_NAMES:
            return f"blk.{layer[1]}.{_LAYER_NAMES[layer[2]]}"
    raise StudioError("gguf.tensor", tensor=hf_name, arch=arch.name)


def arrange(arch: Arch, gguf_name: str, array: Any) -> Any:
    """Llama's Q and K rows reordered from Hugging Face's half-split rotary layout to llama.cpp's interleaved one
    (transformers' GGUF loader undoes exactly this)."""
    if not arch.permute_qk or not gguf_name.endswith(("attn_q.weight", "attn_k.weight")):
        return array
    heads, kv_heads = arch.heads
    n = heads if gguf_name.endswith("attn_q.weight") else kv_heads
    shape = array.shape
    return array.reshape(n, 2, shape[0] // n // 2, *shape[1:]).swapaxes(1, 2).reshape(shape)


def add_model_metadata(writer: Any, arch: Arch, name: str, file_type: int) -> None:
    writer.add_name(name)
    writer.add_file_type(file_type)
    writer.add_context_length(int(arch.get("max_position_embeddings") or 4096))
    writer.add_embedding_length(int(arch.get("hidden_size")))
    writer.add_block_count(int(arch.get("num_hidden_layers")))
    writer.add_feed_forward_length(int(arch.get("intermediate_size")))
    heads, kv_heads = arch.heads
    writer.add_head_count(heads)
    writer.add_head_count_kv(kv_heads)
    writer.add_layer_norm_rms_eps(float(arch.get("rms_norm_eps") or 1e-6))
    writer.add_rope_dimension_count(arch.head_dim)
    writer.add_key_length(arch.head_dim)  # readers default it to their own guess (transformers' Qwen3: 128)
    writer.add_value_length(arch.head_dim)
    rope = arch.rope
    writer.add_rope_freq_base(float(rope["rope_theta"]))
    if rope["rope_type"] in ("linear", "yarn"):
        import gguf

        kind = gguf.RopeScalingType.LINEAR if rope["rope_type"] == "linear" else gguf.RopeScalingType.YARN
        writer.add_rope_scaling_type(kind)
        writer.add_rope_scaling_factor(float(rope.get("factor", 1.0)))
        if rope["rope_type"] == "yarn" and rope.get("original_max_position_embeddings"):
            writer.add_rope_scaling_orig_ctx_len(int(rope["original_max_position_embeddings"]))


def rope_freqs(arch: Arch) -> Any | None:
    """Llama 3.1's frequency factors, which llama.cpp reads as a tensor (None for other rotary kinds)."""
    import numpy as np

    rope = arch.rope
    if rope["rope_type"] != "llama3":
        return None
    base, dim = float(rope["rope_theta"]), arch.head_dim
    factor = float(rope.get("factor", 8.0))
    low, high = float(rope.get("low_freq_factor", 1.0)), float(rope.get("high_freq_factor", 4.0))
    old = float(rope.get("original_max_position_embeddings", 8192))
    factors = []
    for freq in 1.0 / (base ** (np.arange(0, dim, 2, dtype=np.float64) / dim)):
        wavelen = 2 * math.pi / freq
        if wavelen < old / high:
            factors.append(1.0)
        elif wavelen > old / low:
            factors.append(factor)
        else:
            smooth = (old / wavelen - low) / (high - low)
            factors.append(1 / ((1 - smooth) / factor + smooth))
    return np.asarray(factors, dtype=np.float32)


@dataclass
class Vocab:
    pre: str
    tokens: list[str]
    types: list[int]
    merges: list[str]


def vocab(tokenizer_dir: Path, size: int) -> Vocab:
    """The tokenizer as llama.cpp's byte-level BPE ("gpt2") vocabulary, `size` entries (the embedding's rows;
    rows beyond the tokenizer are unused placeholders)."""
    path = tokenizer_dir / "tokenizer.json"
    if not path.is_file():
        raise StudioError("gguf.tokenizer", folder=str(tokenizer_dir), reason="no tokenizer.json")
    spec = json.loads(path.read_text(encoding="utf-8"))
    model = spec.get("model") or {}
    if model.get("type") != "BPE" or model.get("byte_fallback"):
        reason = f"its model is {model.get('type')}{' with byte fallback' if model.get('byte_fallback') else ''}"
        raise StudioError("gguf.tokenizer", folder=str(tokenizer_dir), reason=reason)
    pre = PRE_TOKENIZERS.get(_split_regex(spec.get("pre_tokenizer")), "") if _byte_level(spec) else ""
    if not pre:
        raise StudioError("gguf.tokenizer", folder=str(tokenizer_dir),
                          reason="its pre-tokenizer is not GPT-2's, Qwen2's or Llama 3's")
    tokens = [f"[PAD{i}]" for i in range(size)]
    types = [UNUSED] * size
    for token, index in model["vocab"].items():
        if index < size:
            tokens[index], types[index] = token, NORMAL
    for added in spec.get("added_tokens") or []:
        if added["id"] < size:
            tokens[added["id"]] = added["content"]
            types[added["id"]] = CONTROL if added.get("special") else USER_DEFINED
    merges = [m if isinstance(m, str) else " ".join(m) for m in model.get("merges") or []]
    return Vocab(pre, tokens, types, merges)


def _byte_level(spec: dict) -> bool:
    return '"ByteLevel"' in json.dumps(spec.get("pre_tokenizer")) and '"ByteLevel"' in json.dumps(spec.get("decoder"))


def _split_regex(pre: dict | None) -> str | None:
    """The regex a Sequence[Split, ByteLevel(use_regex=false)] splits with; None for ByteLevel's built-in one."""
    if not pre:
        return "?"
    if pre.get("type") == "ByteLevel":
        return None if pre.get("use_regex", True) else "?"
    steps = pre.get("pretokenizers") or []
    if pre.get("type") == "Sequence" and len(steps) == 2 and steps[0].get("type") == "Split" \
            and steps[1].get("type") == "ByteLevel" and not steps[1].get("use_regex", True):
        return (steps[0].get("pattern") or {}).get("Regex", "?")
    return "?"


def add_tokenizer_metadata(writer: Any, words: Vocab, ids: dict[str, int | None], add_bos: bool,
                           chat_template: str) -> None:
    writer.add_tokenizer_model("gpt2")
    writer.add_tokenizer_pre(words.pre)
    writer.add_token_list(words.tokens)
    writer.add_token_types(words.types)
    writer.add_token_merges(words.merges)
    for key, add in (("bos", writer.add_bos_token_id), ("eos", writer.add_eos_token_id),
                     ("eot", writer.add_eot_token_id), ("pad", writer.add_pad_token_id)):
        if ids.get(key) is not None:
            add(int(ids[key]))  # type: ignore[arg-type]
    writer.add_add_bos_token(add_bos)
    if chat_template:
        writer.add_chat_template(chat_template)
