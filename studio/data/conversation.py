"""The canonical conversation every data format converts to; everything downstream sees only this."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

Role = Literal["user", "assistant", "tool", "function"]


@dataclass(frozen=True)
class Turn:
    role: Role
    content: str


@dataclass(frozen=True)
class Conversation:
    turns: tuple[Turn, ...]
    system: str = ""
    tools: str = ""
    media: tuple[str, ...] = field(default=())

    def as_messages(self) -> list[dict[str, str]]:
        """OpenAI-style messages, the shape chat widgets and chat templates take."""
        head = [{"role": "system", "content": self.system}] if self.system else []
        return head + [{"role": t.role, "content": t.content} for t in self.turns]
