"""A template by name for a tokenizer (`auto` reads the model's own chat template), and its stop token's id."""

from __future__ import annotations

from typing import Any

from studio.templates.named import AUTO, get_template


def make_template(name: str, tokenizer: Any) -> Any:
    """The named template, or for `auto` the model's Jinja template split into turns."""
    if name == AUTO:
        from studio.templates.auto import AutoTemplate

        return AutoTemplate(tokenizer)
    return get_template(name)


def eos_id(template: Any, tokenizer: Any) -> int | None:
    """The token an answer ends with: the template's first stop word where it replaces EOS, else the model's."""
    if template.replace_eos and template.stop_words:
        return tokenizer.convert_tokens_to_ids(template.stop_words[0])
    return tokenizer.eos_token_id
