"""The canonical conversation every data format converts to; everything downstream sees only this."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

Role = Literal["user", "assistant", "tool", "function"]
Kind = Literal["chat", "text"]


@dataclass(frozen=True)
class Turn:
    role: Role
    content: str


@dataclass(frozen=True)
class Conversation:
    turns: tuple[Turn, ...]
    system: str = ""
    tools: str = ""
    images: tuple[str, ...] = ()  # paths relative to the data folder
    videos: tuple[str, ...] = ()
    audios: tuple[str, ...] = ()
    kind: Kind = "chat"  # "text": pre-training text, one assistant turn, every token trained

    def as_messages(self) -> list[dict[str, str]]:
        """OpenAI-style messages, the shape chat widgets and chat templates take."""
        head = [{"role": "system", "content": self.system}] if self.system else []
        return head + [{"role": t.role, "content": t.content} for t in self.turns]

    def without_media(self) -> Conversation:
        """The text alone: media files dropped and their placeholders taken out of the turns."""
        if not (self.images or self.videos or self.audios):
            return self
        turns = tuple(Turn(t.role, _strip_placeholders(t.content)) for t in self.turns)
        return Conversation(turns=turns, system=self.system, tools=self.tools, kind=self.kind)

    def prompt_text(self) -> str:
        """Everything the model reads but does not learn (for length and duplicate checks)."""
        parts = [self.system, self.tools] + [t.content for t in self.turns[:-1]]
        return "\n".join(p for p in parts if p)

    def response_text(self) -> str:
        return self.turns[-1].content if self.turns else ""


PLACEHOLDERS = ("<image>", "<video>", "<audio>")


def _strip_placeholders(text: str) -> str:
    for tag in PLACEHOLDERS:
        text = text.replace(tag + "\n", "").replace(tag, "")
    return text.strip() if text.strip() else text
