"""Models on this machine and on the Hugging Face hub: what the workspace and the HF cache hold, a download with
byte progress that can be stopped and taken up again, deleting from the cache, and pushing an export.

The real `huggingface_hub` client does the transfers; the endpoint (HF_ENDPOINT), the cache (HF_HOME /
HF_HUB_CACHE), offline mode and the token (HF_TOKEN) are read from the environment when each call is made. A
download takes only safetensors weights and the configuration / tokenizer files: a repository whose weights are
pickles only is refused before a byte is fetched, since loading a pickle can run code."""

from __future__ import annotations

import hashlib
import os
import re
import shutil
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from studio.core.errors import StudioError
from studio.core.hf import cached_snapshots
from studio.core.workspace import HUB_ID_RE, Workspace
from studio.model.info import model_config, tensor_shapes

PICKLES = (".bin", ".pt", ".pth", ".ckpt", ".pkl")
WANTED = ("*.json", "*.safetensors", "*.txt", "*.model", "*.tiktoken", "*.jinja", "*.md")  # never code, never pickles
Progress = Callable[[int, int, float], None]  # bytes done, bytes in all, seconds since the start


def endpoint() -> str:
    return os.environ.get("HF_ENDPOINT", "https://huggingface.co").rstrip("/")


def cache_dir() -> Path:
    from studio.core.hf import hub_cache_dir

    return Path(hub_cache_dir())


def offline() -> bool:
    return os.environ.get("HF_HUB_OFFLINE", "").lower() in ("1", "true", "yes", "on")


@dataclass
class LocalModel:
    name: str  # a hub id, or the folder relative to the workspace
    where: str  # "workspace" or "cache"
    path: Path
    size: int
    arch: str
    params: int
    safetensors: bool
    chat_template: bool
    vision: bool


def describe(name: str, where: str, path: Path) -> LocalModel:
    """One row of the Models table. A folder is whatever its author put there (a downloaded repository's files
    are its owner's): what cannot be read shows as unknown instead of breaking the list."""
    from studio.model.vision import VISION_TYPES

    try:
        config = model_config(path) if (path / "config.json").is_file() else {}
    except (OSError, ValueError):
        config = {}
    config = config if isinstance(config, dict) else {}
    try:
        shapes = tensor_shapes(path)
        params = sum(_count(s) for s in shapes.values())
    except Exception:  # a header that is not safetensors, a dangling link: the weights are not usable as they are
        shapes, params = {}, 0
    chat = any((path / f).is_file() for f in ("chat_template.jinja", "chat_template.json")) or \
        '"chat_template"' in _read(path / "tokenizer_config.json")
    size = sum(p.stat().st_size for p in path.rglob("*") if p.is_file())  # is_file follows links to their blobs
    return LocalModel(name, where, path, size, str(config.get("model_type", "?")), params, bool(shapes), chat,
                      str(config.get("model_type", "")) in VISION_TYPES)


def _count(shape: list[int]) -> int:
    out = 1
    for n in shape:
        out *= int(n)
    return out


def _read(path: Path) -> str:
    try:
        return path.read_text(encoding="utf-8")
    except OSError:
        return ""


def list_models(ws: Workspace) -> list[LocalModel]:
    """Model folders in the workspace (models/, merged exports) and each model repository in the HF cache."""
    found = []
    for root in (ws.models_dir, ws.exports_dir):
        for config in sorted(root.glob("*/config.json")) if root.is_dir() else []:
            if config.parent.is_symlink():  # a link planted there is not the workspace's own model
                continue
            found.append(describe(str(config.parent.relative_to(ws.root)), "workspace", config.parent))
    for repo_id, snapshot in cached_snapshots().items():
        found.append(describe(repo_id, "cache", snapshot))
    return found


def delete_cached(repo_id: str, confirm: str) -> int:
    """Remove a model repository from the HF cache (its blobs too); `confirm` must repeat its id. Returns bytes
    freed."""
    repo_id = check_id(repo_id)
    if confirm.strip() != repo_id:
        raise StudioError("hub.confirm", repo=repo_id)
    folder = cache_dir() / f"models--{repo_id.replace('/', '--')}"
    if folder.is_symlink():  # only the link is the cache's; what it points to is not deleted
        folder.unlink()
        return 0
    if not folder.is_dir():
        raise StudioError("hub.not_cached", repo=repo_id)
    size = sum(p.stat().st_size for p in folder.rglob("*") if p.is_file() and not p.is_symlink())
    shutil.rmtree(folder)
    return size


def check_id(repo_id: str) -> str:
    """owner/name, by the studio's rule and by the hub client's own (which refuses `--`, `..`, a trailing `.`)."""
    from huggingface_hub.utils import HFValidationError, validate_repo_id

    repo_id = (repo_id or "").strip() if isinstance(repo_id, str) else ""
    try:
        if not HUB_ID_RE.fullmatch(repo_id) or not repo_id.isascii():
            raise HFValidationError(repo_id)
        validate_repo_id(repo_id)
    except HFValidationError:
        raise StudioError("hub.bad_id", repo=repo_id[:100]) from None
    return repo_id


_HEX = re.compile(r"[0-9a-f]{40}|[0-9a-f]{64}")


def _safe_file(name: str) -> bool:
    parts = name.split("/")
    return bool(name) and "\\" not in name and not name.startswith("/") and all(p not in ("", ".", "..") for p in parts)


@dataclass
class Plan:
    repo_id: str
    revision: str
    files: dict[str, int]  # file -> size
    sha256: dict[str, str]  # weight file -> its sha256, checked after the download

    @property
    def size(self) -> int:
        return sum(self.files.values())


def plan(repo_id: str) -> Plan:
    """What a download of `repo_id` will fetch; every refusal is said here, before anything is written."""
    from huggingface_hub import HfApi
    from huggingface_hub.errors import GatedRepoError, HfHubHTTPError, RepositoryNotFoundError

    repo_id = check_id(repo_id)
    if offline():
        raise StudioError("hub.offline", repo=repo_id)
    try:
        info = HfApi(endpoint=endpoint()).model_info(repo_id, files_metadata=True, timeout=15)
    except GatedRepoError:
        raise StudioError("hub.gated", repo=repo_id) from None
    except RepositoryNotFoundError:
        raise StudioError("hub.not_found", repo=repo_id, url=endpoint()) from None
    except HfHubHTTPError as exc:
        raise StudioError("hub.http", repo=repo_id, detail=str(exc).splitlines()[0][:200]) from None
    except Exception as exc:  # the client's transport errors (DNS, refused, timeout): no network to the hub
        if not _transport_error(exc):
            raise
        raise StudioError("hub.unreachable", repo=repo_id, url=endpoint(), detail=str(exc)[:200]) from None
    siblings = info.siblings or []
    names = [s.rfilename for s in siblings]
    if not any(n.endswith(".safetensors") for n in names):
        if any(n.endswith(PICKLES) for n in names):
            raise StudioError("hub.pickle_only", repo=repo_id,
                              files=", ".join(n for n in names if n.endswith(PICKLES))[:200])
        raise StudioError("hub.no_weights", repo=repo_id)
    from fnmatch import fnmatch

    wanted = [s for s in siblings if any(fnmatch(s.rfilename, p) for p in WANTED)]
    odd = [s.rfilename for s in wanted if not _safe_file(s.rfilename)]
    if not _HEX.fullmatch(info.sha or "") or odd:  # the revision and names become paths in the cache
        raise StudioError("hub.odd_answer", repo=repo_id, url=endpoint(), detail=(odd[0] if odd else info.sha or "")[:80])
    return Plan(repo_id, info.sha, {s.rfilename: int(s.size or 0) for s in wanted},
                {s.rfilename: s.lfs.sha256 for s in wanted if s.lfs is not None and s.lfs.sha256})


class Stopped(Exception):
    """A download stopped on request; what was complete stays in the cache for the next attempt."""


def download(target: Plan, progress: Progress | None = None, stop: threading.Event | None = None) -> Path:
    """Fetch the plan's files into the HF cache (file by file: finished files are kept, and a connection lost
    mid-file is taken up where it stopped by the client's ranged retries), then check every weight file's
    sha256 against the hub's. Returns the snapshot folder."""
    from huggingface_hub import constants, get_hf_file_metadata, hf_hub_download, hf_hub_url
    from huggingface_hub.utils import tqdm as hub_tqdm

    constants.DOWNLOAD_CHUNK_SIZE = min(constants.DOWNLOAD_CHUNK_SIZE, 1 << 20)  # progress and Stop every MiB
    started, done = time.monotonic(), {"bytes": 0}
    stop = stop or threading.Event()

    class Counting(hub_tqdm):  # the client reports each file's bytes through its progress bar
        def __init__(self, *args: Any, **kwargs: Any) -> None:
            kwargs["disable"] = True
            super().__init__(*args, **kwargs)

        def update(self, n: float | None = 1) -> bool | None:
            if stop.is_set():
                raise Stopped()
            done["bytes"] += int(n or 0)
            if progress:
                progress(min(done["bytes"], target.size), target.size, time.monotonic() - started)
            return None

    folder = None
    for name, size in sorted(target.files.items(), key=lambda item: item[1]):  # small files first
        if stop.is_set():
            raise Stopped()
        before = done["bytes"]
        meta = get_hf_file_metadata(hf_hub_url(target.repo_id, name, revision=target.revision, endpoint=endpoint()))
        if not _HEX.fullmatch(meta.etag or "") or meta.commit_hash != target.revision:  # they name cache files
            raise StudioError("hub.odd_answer", repo=target.repo_id, url=endpoint(), detail=str(meta.etag)[:80])
        path = Path(hf_hub_download(target.repo_id, name, revision=target.revision, endpoint=endpoint(),
                                    cache_dir=cache_dir(), tqdm_class=Counting))
        done["bytes"] = before + size  # a cached file counts whole
        if progress:
            progress(done["bytes"], target.size, time.monotonic() - started)
        folder = path.parent if "/" not in name else path.parents[len(Path(name).parts) - 1]
        if name in target.sha256 and _sha256(path) != target.sha256[name]:
            path.resolve().unlink(missing_ok=True)
            path.unlink(missing_ok=True)
            raise StudioError("hub.bad_hash", repo=target.repo_id, file=name)
    assert folder is not None
    refs = cache_dir() / f"models--{target.repo_id.replace('/', '--')}" / "refs"
    refs.mkdir(parents=True, exist_ok=True)
    (refs / "main").write_text(target.revision, encoding="utf-8")  # by commit: the client records no branch
    return folder


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def push(folder: Path, repo_id: str, private: bool) -> str:
    """Upload an export folder to a model repository (created if missing); the token comes from HF_TOKEN (or the
    client's own login) and nowhere else. Returns the commit URL."""
    from huggingface_hub import HfApi
    from huggingface_hub.errors import HfHubHTTPError

    repo_id = check_id(repo_id)
    if offline():
        raise StudioError("hub.offline", repo=repo_id)
    linked = next((p for p in folder.rglob("*") if p.is_symlink()), None)
    if linked is not None:  # the client would upload what a link points at, from anywhere on the server
        raise StudioError("hub.linked", folder=folder.name, link=str(linked.relative_to(folder)))
    from huggingface_hub import get_token

    if not get_token():
        raise StudioError("hub.no_token", repo=repo_id)
    api = HfApi(endpoint=endpoint())
    try:
        api.create_repo(repo_id, private=private, exist_ok=True)
        commit = api.upload_folder(folder_path=str(folder), repo_id=repo_id, ignore_patterns=[".studio-export"],
                                   commit_message=f"Upload {folder.name}")
    except HfHubHTTPError as exc:
        raise StudioError("hub.http", repo=repo_id, detail=str(exc).splitlines()[0][:200]) from None
    except Exception as exc:
        if not _transport_error(exc):
            raise
        raise StudioError("hub.unreachable", repo=repo_id, url=endpoint(), detail=str(exc)[:200]) from None
    return str(commit.commit_url)


def _transport_error(exc: BaseException) -> bool:
    """A connection that failed (the client's own transport error types, or the OS's)."""
    return isinstance(exc, OSError) or any(t.__name__ in ("TransportError", "ConnectionError")
                                           for t in type(exc).__mro__)
