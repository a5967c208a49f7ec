"""GGUF files as transformers' own GGUF loader reads them back: every tensor equal (f16, bf16) or within q8_0's
rounding, the tokenizer giving the same ids; and each refusal one sentence with nothing written."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest
import torch
from transformers import AutoConfig, AutoModelForCausalLM, AutoTokenizer

from studio.core.errors import StudioError
from studio.serve import gguf
from studio.serve.targets import ChatTarget

FIXTURES = Path(__file__).parents[2] / "fixtures"
TEXTS = ["Hello world, 你好！ 123 4567", "<|im_start|>user\nhi<|im_end|>\n", "  two  spaces\n\n\tnew line's"]


def _tiny(folder: Path, model_type: str, **extra) -> Path:
    tokenizer = AutoTokenizer.from_pretrained(FIXTURES / "multi_tokenizer")
    sizes = dict(vocab_size=len(tokenizer), hidden_size=64, intermediate_size=128, num_hidden_layers=2,
                 num_attention_heads=4, num_key_value_heads=2, max_position_embeddings=512)
    config = AutoConfig.for_model(model_type, **{**sizes, **extra})
    torch.manual_seed(0)
    model = AutoModelForCausalLM.from_config(config)
    model.save_pretrained(folder)
    tokenizer.save_pretrained(folder)
    return folder


def _read_back(out: Path, file: str) -> dict[str, torch.Tensor]:
    return AutoModelForCausalLM.from_pretrained(out, gguf_file=file, dtype=torch.float32).state_dict()


@pytest.mark.parametrize(("model_type", "extra"), [
    ("llama", {"tie_word_embeddings": False}),
    ("llama", {"tie_word_embeddings": True}),
    ("qwen2", {"tie_word_embeddings": True}),
    ("qwen3", {"tie_word_embeddings": False, "head_dim": 128}),  # transformers reads no other (Qwen3's own)
])
def test_every_tensor_reads_back(tmp_path: Path, model_type: str, extra: dict) -> None:
    folder = _tiny(tmp_path / "model", model_type, **extra)
    target = ChatTarget(str(folder), None, "chatml", str(folder))
    source = AutoModelForCausalLM.from_pretrained(folder, dtype=torch.float32).state_dict()
    said: list[str] = []
    sizes = {}
    for kind, rounded in (("f16", torch.float16), ("bf16", torch.bfloat16), ("q8_0", None)):
        done = gguf.export_gguf(target, tmp_path / kind, kind, say=said.append)
        sizes[kind] = (done.out / done.gguf_file).stat().st_size
        back = _read_back(done.out, done.gguf_file)
        assert set(back) == set(source), set(source) ^ set(back)
        for name, tensor in source.items():
            if rounded is not None or tensor.dim() == 1:  # 1-D tensors stay f32
                want = tensor if tensor.dim() == 1 else tensor.to(rounded).float()
                assert torch.equal(back[name], want), (kind, name)
            else:  # q8_0: each block of 32 is int8 times its largest value / 127, that scale stored in f16
                blocks = tensor.reshape(-1, 32)
                step = blocks.abs().amax(dim=1, keepdim=True) / 127
                error = (back[name].reshape(-1, 32) - blocks).abs()
                assert (error <= step * 0.6 + 1e-7).all() and error.mean() < step.mean() * 0.3, name
        tokenizer = AutoTokenizer.from_pretrained(done.out, gguf_file=done.gguf_file)
        mine = AutoTokenizer.from_pretrained(folder)
        for text in TEXTS:
            assert tokenizer(text)["input_ids"] == mine(text)["input_ids"], text
    assert sizes["q8_0"] < 0.7 * sizes["f16"]
    assert any("the file will take about" in s for s in said) and any("the source" in s for s in said)


def test_the_modelfile_and_readme_come_with_it(tmp_path: Path) -> None:
    folder = _tiny(tmp_path / "model", "qwen2")
    done = gguf.export_gguf(ChatTarget(str(folder), None, "qwen", str(folder)), tmp_path / "exp", "f16", name="tiny")
    assert done.gguf_file == "tiny-f16.gguf" and done.files == ["Modelfile", "README.md", "tiny-f16.gguf"]
    modelfile = (done.out / "Modelfile").read_text(encoding="utf-8")
    assert modelfile.startswith("FROM ./tiny-f16.gguf\nTEMPLATE") and 'PARAMETER stop "<|im_end|>"' in modelfile
    assert "ollama create tiny -f Modelfile" in done.serve and "llama-quantize tiny-f16.gguf" in done.serve
    from gguf import GGUFReader

    fields = GGUFReader(done.out / done.gguf_file).fields
    eos = int(fields["tokenizer.ggml.eos_token_id"].parts[-1][0])
    assert AutoTokenizer.from_pretrained(folder).convert_ids_to_tokens(eos) == "<|im_end|>"  # the template's stop
    assert "tokenizer.chat_template" in fields and "tokenizer.ggml.merges" in fields


def test_refusals_are_one_sentence_and_write_nothing(tmp_path: Path) -> None:
    folder = _tiny(tmp_path / "model", "llama")
    target = ChatTarget(str(folder), None, "chatml", str(folder))
    with pytest.raises(StudioError, match=r"Q4_K_M is made only by llama.cpp's compiled quantizer.*llama-quantize MODEL-f16.gguf MODEL-Q4_K_M.gguf"):
        gguf.export_gguf(target, tmp_path / "a", "q4_k_m")
    with pytest.raises(StudioError, match="GGUF type 'q3' is not offered; choose one of f16, bf16, q8_0"):
        gguf.export_gguf(target, tmp_path / "a", "q3")
    other = tmp_path / "gpt2"
    shutil.copytree(folder, other)
    (other / "config.json").write_text('{"model_type": "gpt2"}', encoding="utf-8")
    with pytest.raises(StudioError, match=r"does not support the architecture 'gpt2'; supported: llama, mistral, "
                                          r"qwen2, qwen3, qwen2_vl"):
        gguf.export_gguf(ChatTarget(str(other), None, "chatml", str(other)), tmp_path / "a", "f16")
    spm = tmp_path / "spm"
    shutil.copytree(folder, spm)
    spec = json.loads((spm / "tokenizer.json").read_text(encoding="utf-8"))
    spec["model"]["type"] = "Unigram"
    (spm / "tokenizer.json").write_text(json.dumps(spec), encoding="utf-8")
    with pytest.raises(StudioError, match="cannot be written as llama.cpp's byte-level BPE vocabulary: its model is "
                                          "Unigram"):
        gguf.export_gguf(ChatTarget(str(spm), None, "chatml", str(spm)), tmp_path / "a", "f16")
    assert not (tmp_path / "a").exists() and not list(tmp_path.glob(".a.*"))


def test_q8_0_keeps_rows_it_cannot_pack_in_f16(tmp_path: Path) -> None:
    folder = _tiny(tmp_path / "model", "llama", intermediate_size=80)  # down_proj rows of 80: not blocks of 32
    done = gguf.export_gguf(ChatTarget(str(folder), None, "chatml", str(folder)), tmp_path / "q", "q8_0")
    from gguf import GGUFReader

    types = {t.name: t.tensor_type.name for t in GGUFReader(done.out / done.gguf_file).tensors}
    assert types["blk.0.ffn_down.weight"] == "F16" and types["blk.0.ffn_up.weight"] == "Q8_0"
    assert types["blk.0.attn_norm.weight"] == "F32"
    source = AutoModelForCausalLM.from_pretrained(folder).state_dict()["model.layers.0.mlp.down_proj.weight"]
    back = _read_back(done.out, done.gguf_file)["model.layers.0.mlp.down_proj.weight"]
    assert np.array_equal(back.numpy(), source.half().float().numpy())
