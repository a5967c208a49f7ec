"""The workspace folder: where data, models, runs and caches live, and the fence a browser cannot cross.

The operator widens the fence on the command line (`--model-dir`, `--data-dir`) or in the environment
(`STUDIO_MODEL_DIRS`, `STUDIO_DATA_DIRS`, os.pathsep-separated), which the server, the CLI and every worker it
starts read alike; `STUDIO_TRUST_REMOTE_CODE=1` (`--trust-remote-code`) is likewise the operator's alone."""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from pathlib import Path

from studio.core.errors import StudioError

REPO_ROOT = Path(__file__).resolve().parents[2]
MODEL_DIRS_ENV, DATA_DIRS_ENV, REMOTE_CODE_ENV = "STUDIO_MODEL_DIRS", "STUDIO_DATA_DIRS", "STUDIO_TRUST_REMOTE_CODE"
# Dataset, run and export names: letters (any script, CJK included), digits, - _ . ; at most 100; no leading dot.
NAME_RE = re.compile(r"\w[\w.\-]{0,99}")
HUB_ID_RE = re.compile(r"[A-Za-z0-9][\w.\-]{0,95}/[A-Za-z0-9][\w.\-]{0,95}")  # exactly owner/name
DEMO_MODEL = "models/demo-tiny"  # the embedded default, built locally on first start
DEMO_VISION_MODEL = "models/demo-vl"  # the vision demo: a tiny Qwen2-VL, built locally after the text demo
MAX_TEXT = 4096  # longest path or short text field a browser may send


def check_text(value: str, what: str, limit: int = MAX_TEXT) -> str:
    """A text field as sent: refused with a sentence when it holds NUL / control bytes or is too long."""
    if not isinstance(value, str):
        raise StudioError("input.not_text", field=what)
    if len(value) > limit:
        raise StudioError("input.too_long", field=what, length=len(value), limit=limit)
    if any(ord(c) < 32 and c not in "\t\n\r" for c in value):
        raise StudioError("input.control", field=what)
    return value


def check_name(value: str, what: str) -> str:
    """The one naming rule for datasets, runs and exports (they become folder names and registry keys)."""
    check_text(value, what, limit=1000)
    if not NAME_RE.fullmatch(value):
        shown = value if len(value) <= 60 else value[:57] + "…"
        raise StudioError("input.bad_name", field=what, value=shown)
    return value


def env_roots(name: str) -> tuple[Path, ...]:
    return tuple(Path(p).expanduser().resolve() for p in os.environ.get(name, "").split(os.pathsep) if p.strip())


def inside(path: Path, roots: tuple[Path, ...] | list[Path]) -> bool:
    """Whether a resolved path lies strictly below one of the roots."""
    return any(root in path.parents for root in roots)


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
    def exports_dir(self) -> Path:
        return self.root / "exports"

    @property
    def cache_dir(self) -> Path:
        """Tokenized datasets (and, when set, the HF caches): $STUDIO_CACHE_DIR, e.g. shared storage, else cache/.

        An operator's setting, not a run's: a browser never chooses where the server writes."""
        shared = os.environ.get("STUDIO_CACHE_DIR")
        return Path(shared).expanduser().resolve() if shared else self.root / "cache"

    @property
    def uploads_dir(self) -> Path:
        """Where the web server keeps uploads until the page's handler moves them into data/."""
        return self.cache_dir / "uploads"

    def uploaded(self, path: str) -> Path:
        """An uploaded file the page names: it must be one the server received (inside uploads_dir)."""
        resolved = Path(check_text(path, "upload")).resolve()
        if not inside(resolved, (self.uploads_dir.resolve(),)):
            raise StudioError("path.outside", path=path, root=str(self.uploads_dir))
        return resolved

    @property
    def registry_file(self) -> Path:
        return self.data_dir / "dataset_info.json"

    @property
    def trust_remote_code(self) -> bool:
        return os.environ.get(REMOTE_CODE_ENV, "") == "1"

    def model_roots(self) -> tuple[Path, ...]:
        """Where a browser may name a model: models/, run outputs, exports, and the operator's --model-dir."""
        own = (self.models_dir, self.runs_dir, self.exports_dir)
        return tuple(p.resolve() for p in own) + env_roots(MODEL_DIRS_ENV)

    def cli_path(self, value: str | os.PathLike[str]) -> Path:
        """A path given on the command line (the operator's own, not fenced): as given when it exists, else
        relative to the workspace, as run configs name models and the UI names exports."""
        path = Path(value).expanduser()
        return path.resolve() if path.is_absolute() or path.exists() else (self.root / path).resolve()

    def confine(self, user_path: str | os.PathLike[str], base: Path | None = None) -> Path:
        """Resolve a path a browser or config sent, refusing anything outside the workspace."""
        base = base or self.root
        text = check_text(str(user_path), "path")
        path = (base / Path(text).expanduser()).resolve()
        if path != self.root and self.root not in path.parents:
            raise StudioError("path.outside", path=text, root=str(self.root))
        return path

    def browser_model(self, value: str, field: str = "model_name_or_path") -> str:
        """A model a browser named: a folder under the model roots (symlinks resolved first), or a hub id.

        Returns the resolved folder, or the hub id as given. The command line does not come through here."""
        text = check_text(value or "", field).strip()
        if not text:
            raise StudioError("chat.no_model")
        candidate = (self.root / Path(text).expanduser()).resolve()
        if HUB_ID_RE.fullmatch(text) and not os.path.lexists(self.root / text):
            return text
        if not inside(candidate, self.model_roots()):
            roots = ", ".join(str(r) for r in self.model_roots())
            raise StudioError("path.model_outside", field=field, path=text, roots=roots)
        return str(candidate)

    def local_model_dir(self, value: str) -> Path | None:
        """The browser-named model's folder when it is one here (config.json present): a folder under the model
        roots, or a hub id's snapshot in the HF cache; None for a hub id not downloaded."""
        resolved = self.browser_model(value)
        path = Path(resolved)
        if not path.is_absolute():
            from studio.core.hf import cached_snapshot

            snapshot = cached_snapshot(resolved)
            return Path(snapshot) if snapshot else None
        return path if (path / "config.json").exists() else None

    def cached_models(self) -> list[str]:
        """Hub model ids whose snapshot is in the HF cache (downloaded from the Models tab or by a run)."""
        from studio.core.hf import cached_snapshots

        return [repo for repo, snapshot in cached_snapshots().items() if (snapshot / "config.json").is_file()]

    def local_models(self) -> list[str]:
        """Model folders under models/ (those with a config.json) that resolve inside the model roots."""
        roots = self.model_roots()
        found = sorted(p.parent for p in self.models_dir.glob("*/config.json") if inside(p.parent.resolve(), roots))
        return [str(p.relative_to(self.root)) for p in found]
