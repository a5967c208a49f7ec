"""Isolation for every test: workspace and HF caches under tmp_path, hub offline; one demo model per session."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from studio.demo import DEMO_MODEL, create_model, ensure_dataset
from studio.workspace import Workspace

FIXTURES = Path(__file__).parent / "fixtures"


@pytest.fixture(autouse=True)
def _isolate(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("HF_HOME", str(tmp_path / "hf-home"))
    monkeypatch.setenv("GRADIO_ANALYTICS_ENABLED", "False")


@pytest.fixture(scope="session")
def demo_model(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The demo model, built once for the whole session by the same code `python app.py` runs."""
    target = tmp_path_factory.mktemp("demo-model") / "demo-tiny"
    create_model(target)
    return target


@pytest.fixture
def ws(tmp_path: Path, demo_model: Path) -> Workspace:
    """A fresh workspace holding the demo dataset and a copy of the demo model."""
    workspace = Workspace.at(tmp_path / "workspace")
    ensure_dataset(workspace)
    shutil.copytree(demo_model, workspace.root / DEMO_MODEL)
    return workspace
