"""The app still builds when the user's dataset_info.json is broken; the sentence is shown, nothing is rewritten."""

import pytest

from studio.core.workspace import Workspace
from studio.ui.app import build_app


@pytest.mark.bad_input
def test_app_builds_with_a_broken_registry(ws: Workspace) -> None:
    ws.registry_file.write_text("{broken", encoding="utf-8")
    build_app(ws)
    assert ws.registry_file.read_text(encoding="utf-8") == "{broken"
