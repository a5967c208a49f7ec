"""The `auto` template: the model's own Jinja chat template, split into turns by rendering growing prefixes.

Rendering messages[:k] must be a prefix of rendering messages[:k+1]; the new text is that turn's
message (a user turn's includes the assistant header that follows it). Templates that rewrite
earlier turns when a later one is added (e.g. drop an earlier answer's thoughts) cannot be split
this way, and are refused with a sentence instead of being guessed at.
"""

from __future__ import annotations

from typing import Any

from studio.data.conversation import Conversation, Turn
from studio.templates.named import EOS, Message

PROBE = Conversation(turns=(Turn("user", "Q1"), Turn("assistant", "A1"), Turn("user", "Q2"), Turn("assistant", "A2")),
                     system="S")


class Unsplittable(ValueError):
    """The chat template rewrote text it had already written; the reason is the message."""


class AutoTemplate:
    name = "auto"
    prefix: tuple = ()
    stop_words: tuple[str, ...] = ()
    replace_eos = False
    specials: tuple[str, ...] = ()

    def __init__(self, tokenizer: Any) -> None:
        self.tokenizer = tokenizer

    def _render(self, messages: list[dict[str, str]], generation_prompt: bool) -> str:
        try:
            text = self.tokenizer.apply_chat_template(messages, tokenize=False,
                                                      add_generation_prompt=generation_prompt)
        except Exception as exc:  # a Jinja template raises whatever its author chose (roles, order, ...)
            raise Unsplittable(f"the chat template refused the messages: {exc}") from None
        return text if isinstance(text, str) else str(text)

    def messages(self, conv: Conversation, one_turn: bool = False) -> list[Message]:
        head = [{"role": "system", "content": conv.system}] if conv.system else []
        chat = [{"role": "assistant" if t.role == "function" else t.role, "content": t.content} for t in conv.turns]
        out: list[Message] = []
        before = ""
        for i, turn in enumerate(conv.turns):
            prompt_side = turn.role in ("user", "tool")
            text = self._render(head + chat[:i + 1], generation_prompt=prompt_side)
            if not text.startswith(before):
                raise Unsplittable(f"adding turn {i + 1} changed the text written for the turns before it")
            piece = text[len(before):]
            if turn.content and turn.content not in piece:
                raise Unsplittable(f"turn {i + 1}'s text does not appear where the template writes that turn")
            out.append([piece])
            before = text
        return out

    def text_messages(self, conv: Conversation) -> list[Message]:
        return [[], [conv.response_text(), EOS]]

    @property
    def trains_stop(self) -> bool:
        """Whether the text written after an answer holds the EOS token or another special token."""
        try:
            answer = self.messages(PROBE)[1][0]
        except Unsplittable:
            return False
        tail = str(answer).split("A1", 1)[-1]
        specials = set(getattr(self.tokenizer, "all_special_tokens", [])) | {self.tokenizer.eos_token or ""}
        return any(tok and tok in tail for tok in specials)


def check_auto(tokenizer: Any) -> str:
    """'' when `auto` can be used with this tokenizer, else the reason it cannot."""
    if not isinstance(getattr(tokenizer, "chat_template", None), str):
        return "no_chat_template"
    try:
        AutoTemplate(tokenizer).messages(PROBE)
    except Unsplittable as exc:
        return str(exc)
    return ""
