"""User-caused failures: one sentence naming the file / row / field, in English and Chinese."""

from __future__ import annotations

from studio.core.messages import render


class StudioError(Exception):
    """An error the user can fix. Anything else raised is a bug."""

    def __init__(self, key: str, /, **fields: object) -> None:
        self.key = key
        self.fields = fields
        super().__init__(render(key, "en", **fields))

    def text(self, lang: str = "en") -> str:
        return render(self.key, lang, **self.fields)
