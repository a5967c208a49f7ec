"""The workspace folder: where data, models, runs and caches live, and the fence around it."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from studio.errors import StudioError

REPO_ROOT = Path(__file__).resolve().parent.parent


@dataclass(frozen=True)
class Workspace:
    root: Path

    @classmethod
    def at(cls, path: str | os.PathLike[str]) -> Workspace:
        ws = cls(Path(path).expanduser().resolve())
        for folder in (ws.data_dir, ws.models_dir, ws.runs_dir, ws.cache_dir):
            folder.mkdir(parents=True, exist_ok=True)
        return ws

    @property
    def data_dir(self) -> Path:
        return self.root / "data"

    @property
    def models_dir(self) -> Path:
        return self.root / "models"

    @property
    def runs_dir(self) -> Path:
        return self.root / "runs"

    @property
    def cache_dir(self) -> Path:
        """Tokenized datasets (and, when set, the HF caches): $STUDIO_CACHE_DIR, e.g. shared storage, else cache/.

        An operator's setting, not a run's: a browser never chooses where the server writes."""
        shared = os.environ.get("STUDIO_CACHE_DIR")
        return Path(shared).expanduser().resolve() if shared else self.root / "cache"

    @property
    def registry_file(self) -> Path:
        return self.data_dir / "dataset_info.json"

    def confine(self, user_path: str | os.PathLike[str], base: Path | None = None) -> Path:
        """Resolve a path a browser or config sent, refusing anything outside the workspace."""
        base = base or self.root
        path = (base / Path(user_path).expanduser()).resolve()
        if path != self.root and self.root not in path.parents:
            raise StudioError("path.outside", path=str(user_path), root=str(self.root))
        return path

    def local_models(self) -> list[str]:
        """Model folders under models/ (those with a config.json), as workspace-relative paths."""
        found = sorted(p.parent for p in self.models_dir.glob("*/config.json"))
        return [str(p.relative_to(self.root)) for p in found]
