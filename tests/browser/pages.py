"""Page object: the studio's stable element ids in one place, so tests read as user steps."""

from __future__ import annotations

import re
from pathlib import Path

from playwright.sync_api import Page, expect

CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"]


class StudioPage:
    def __init__(self, page: Page, url: str, shots: Path) -> None:
        self.page, self.url, self.shots = page, url, shots

    def open(self) -> None:
        self.page.goto(self.url)
        expect(self.page.locator("#tabs")).to_be_visible(timeout=30_000)

    def tab(self, name: str) -> None:
        self.page.get_by_role("tab", name=name).click()

    def shot(self, name: str) -> Path:
        path = self.shots / f"{name}.png"
        self.page.screenshot(path=str(path), full_page=True)
        return path

    def text(self, elem_id: str) -> str:
        return self.page.locator(f"#{elem_id}").inner_text()

    def expect_text(self, elem_id: str, text: str, timeout: float = 30_000) -> None:
        expect(self.page.locator(f"#{elem_id}")).to_contain_text(text, timeout=timeout)

    def expect_value(self, elem_id: str, pattern: str, timeout: float = 30_000) -> None:
        """For text areas, whose text is a value rather than page text."""
        expect(self.page.locator(f"#{elem_id} textarea")).to_have_value(re.compile(pattern), timeout=timeout)

    def choose_language(self, label: str) -> None:
        self.page.locator("#lang").get_by_text(label, exact=True).click()

    def start_training(self) -> None:
        self.page.locator("#train-start").click()

    def load_chat(self) -> None:
        self.page.locator("#chat-load").click()

    def ask(self, message: str) -> None:
        self.page.locator("#chat-input textarea").fill(message)
        self.page.locator("#chat-send").click()

    def data_tab(self, sub: str) -> None:
        """Open a sub-tab of the Data tab by its element id (data-list-tab, data-add-tab, data-report-tab)."""
        self.page.locator(f"#{sub}-button").click()

    def pick(self, elem_id: str, value: str) -> None:
        """Choose a dropdown option by typing it and pressing Enter, as a user with a keyboard would."""
        box = self.page.locator(f"#{elem_id} input")
        box.click()
        box.fill(value)
        self.page.keyboard.press("Enter")

    def toast(self, text: str, timeout: float = 15_000) -> None:
        expect(self.page.locator(".toast-body").filter(has_text=text).first).to_be_visible(timeout=timeout)


def english_fragments() -> set[str]:
    """Pieces of our own English text (UI strings, messages, field labels and help, preset notes) long enough to
    be unmistakable: on a page switched to Chinese, none of them may be left."""
    from studio.core import presets
    from studio.core.config import FIELDS
    from studio.core.messages import MESSAGES
    from studio.ui.i18n import STRINGS

    texts = [en for en, zh in (*STRINGS.values(), *MESSAGES.values()) if en != zh]
    texts += [part for f in FIELDS.values() for part in f.metadata["en"]]
    texts += [presets.preset_rationale(name) for name in presets.list_presets()]
    found = set()
    for text in texts:
        for piece in re.split(r"\{[^}]*\}|\*\*|`|\n|[.:;?!]\s", text):
            piece = piece.strip(" .,:;()·—–-*#“”'\"")
            if len(piece) >= 14 and piece.count(" ") >= 2:
                found.add(piece)
    return found


def english_left(page: Page, fragments: set[str]) -> list[str]:
    """Our English fragments visible on the page now (hidden tabs and closed accordions are not read)."""
    text = page.locator("body").inner_text()
    return sorted(f for f in fragments if f in text)
