import re
from pathlib import Path

from studio.core.messages import MESSAGES
from studio.ui.i18n import STRINGS

UI = Path(__file__).parents[3] / "studio" / "ui"


def test_every_ui_key_used_exists_in_both_languages() -> None:
    used = set()
    for path in UI.rglob("*.py"):
        used |= set(re.findall(r"""\bt\(\s*f?["']([\w.{}]+)["']""", path.read_text(encoding="utf-8")))
    plain = {k for k in used if "{" not in k}
    assert plain, "no keys found: the pattern is broken"
    assert plain <= set(STRINGS), plain - set(STRINGS)
    for prefix in {k.split("{")[0] for k in used if "{" in k}:
        assert any(k.startswith(prefix) for k in STRINGS), prefix


def test_both_languages_present_and_same_placeholders() -> None:
    for table in (STRINGS, MESSAGES):
        for key, (en, zh) in table.items():
            if key == "app.demo_ready":
                continue
            assert en.strip() and zh.strip(), key
            assert set(re.findall(r"{(\w+)", en)) == set(re.findall(r"{(\w+)", zh)), key
