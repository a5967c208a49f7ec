"""The Ollama Modelfile's template, rendered as Ollama renders it (Go text/template semantics), writes the same
prompt text the studio's encoder writes for every named template: system or not, two turns, BOS and EOS."""

from __future__ import annotations

from pathlib import Path

import pytest
from gotemplate import render  # beside this file (pytest puts its folder on sys.path)
from transformers import AutoTokenizer

from studio.data.conversation import Conversation, Turn
from studio.encode.encoder import Encoder, Options
from studio.serve.modelfile import chat_format, go_template, jinja_template, modelfile
from studio.templates.named import CHATML_JINJA, TEMPLATES
from studio.templates.registry import make_template

FIXTURES = Path(__file__).parents[2] / "fixtures"
TURNS = (Turn("user", "What is 2+3?"), Turn("assistant", "5"), Turn("user", "And {{ 2+4 }}?"))


@pytest.fixture(scope="module")
def tokenizer():
    return AutoTokenizer.from_pretrained(FIXTURES / "multi_tokenizer")


def _ours(template_name: str, tokenizer, system: str) -> str:
    template = make_template(template_name, tokenizer)
    conv = Conversation(turns=TURNS, system=system)
    ids = Encoder(template, tokenizer, Options(cutoff_len=4096)).prompt_ids(conv)
    return tokenizer.decode(ids, skip_special_tokens=False)


def _ollama(template_name: str, tokenizer, system: str) -> str:
    fmt = chat_format(make_template(template_name, tokenizer), tokenizer, add_bos=False)
    messages = [{"Role": t.role, "Content": t.content} for t in TURNS]
    return render(go_template(fmt), {"System": system or fmt.default_system, "Messages": messages})


@pytest.mark.parametrize("name", [n for n in TEMPLATES if n != "empty"])
@pytest.mark.parametrize("system", ["", "Answer in one word."])
def test_rendered_template_is_our_prompt_text(tokenizer, name: str, system: str) -> None:
    assert _ollama(name, tokenizer, system) == _ours(name, tokenizer, system)


def test_a_system_message_sent_by_the_client_replaces_the_default(tokenizer) -> None:
    fmt = chat_format(make_template("qwen", tokenizer), tokenizer, add_bos=False)
    text = modelfile("m.gguf", fmt)
    assert 'SYSTEM """You are Qwen, created by Alibaba Cloud.' in text
    assert "PARAMETER stop \"<|im_end|>\"" in text and text.startswith("FROM ./m.gguf\n")
    assert "You are Qwen" not in go_template(fmt)  # the default lives in SYSTEM only, so a request can replace it


def test_the_bos_the_runtime_adds_is_not_written_twice(tokenizer) -> None:
    fmt = chat_format(make_template("llama3", tokenizer), tokenizer, add_bos=True)
    assert "<s>" not in go_template(fmt)
    fmt = chat_format(make_template("llama3", tokenizer), tokenizer, add_bos=False)
    assert go_template(fmt).startswith("<s>")


def test_the_models_own_jinja_template(tokenizer) -> None:
    tokenizer.chat_template = CHATML_JINJA
    for system in ("", "Be brief."):
        assert _ollama("auto", tokenizer, system) == _ours("auto", tokenizer, system)


@pytest.mark.parametrize("name", [n for n in TEMPLATES if n != "empty"])
@pytest.mark.parametrize("system", ["", "Answer in one word."])
def test_the_jinja_twin_writes_the_same_text(tokenizer, name: str, system: str) -> None:
    """What a GGUF's metadata carries for a template the tokenizer has no Jinja for (llama.cpp's --jinja)."""
    import jinja2

    fmt = chat_format(make_template(name, tokenizer), tokenizer, add_bos=False)
    messages = ([{"role": "system", "content": system}] if system else []) + \
        [{"role": t.role, "content": t.content} for t in TURNS]
    text = jinja2.Environment().from_string(jinja_template(fmt)).render(messages=messages)
    assert text == _ours(name, tokenizer, system)
