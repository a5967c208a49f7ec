"""Conversation -> segments [(text, trainable?)] through a named chat template."""

from __future__ import annotations

from dataclasses import dataclass

from studio.data.conversation import Conversation, Turn

Segment = tuple[str, bool]


@dataclass(frozen=True)
class Template:
    name: str
    system: str  # "{content}" slots, as in LLaMA-Factory's formatters
    user: str  # ends with the assistant header, so a prompt ends where the answer starts
    assistant: str  # trained: the answer and its stop token
    tool: str
    stop: tuple[str, ...]
    default_system: str = ""

    def segments(self, conv: Conversation) -> list[Segment]:
        """The whole conversation; assistant turns are trainable, everything else is prompt."""
        if conv.kind == "text":  # pre-training text: no chat markup, every token trained
            return [(conv.response_text(), True)]
        out: list[Segment] = []
        system = conv.system or self.default_system
        if system:
            out.append((self.system.format(content=system), False))
        for turn in conv.turns:
            out.append(self._turn(turn))
        return _merge(out)

    def prompt(self, conv: Conversation) -> str:
        """The text a model continues to answer the conversation's last user turn."""
        return "".join(text for text, _ in self.segments(conv))

    def _turn(self, turn: Turn) -> Segment:
        if turn.role in ("assistant", "function"):
            return self.assistant.format(content=turn.content), True
        if turn.role == "tool":
            return self.tool.format(content=turn.content), False
        return self.user.format(content=turn.content), False


def _merge(segments: list[Segment]) -> list[Segment]:
    """Join neighbours with the same flag, so a prompt is tokenized as one piece of text."""
    merged: list[Segment] = []
    for text, trainable in segments:
        if merged and merged[-1][1] == trainable:
            merged[-1] = (merged[-1][0] + text, trainable)
        else:
            merged.append((text, trainable))
    return merged


TEMPLATES: dict[str, Template] = {
    "chatml": Template(
        name="chatml",
        system="<|im_start|>system\n{content}<|im_end|>\n",
        user="<|im_start|>user\n{content}<|im_end|>\n<|im_start|>assistant\n",
        assistant="{content}<|im_end|>\n",
        tool="<|im_start|>tool\n{content}<|im_end|>\n<|im_start|>assistant\n",
        stop=("<|im_end|>",),
    ),
}

# The same format as a Jinja chat template, saved into the demo tokenizer so that
# `apply_chat_template` and other tools see the format the demo was trained with.
CHATML_JINJA = (
    "{% for message in messages %}"
    "{{ '<|im_start|>' + message['role'] + '\n' + message['content'] + '<|im_end|>' + '\n' }}"
    "{% endfor %}"
    "{% if add_generation_prompt %}{{ '<|im_start|>assistant\n' }}{% endif %}"
)


def get_template(name: str) -> Template:
    return TEMPLATES[name]  # names are validated against TEMPLATES by the config schema
