"""A thread-safe first import of transformers and peft.

transformers resolves its classes lazily on first attribute access; two threads making that first access at
once can see a half-initialised module ("cannot import name 'AutoTokenizer'"). UI callbacks run in worker
threads (a chat load while the Train tab reads a tokenizer), so the first touch goes through one lock."""

from __future__ import annotations

import os
import threading
from pathlib import Path

_lock = threading.Lock()
_ready: set[str] = set()
_CLASSES = ("AutoTokenizer", "AutoModelForCausalLM", "AutoConfig", "GenerationConfig", "TextIteratorStreamer")


def ready(with_peft: bool = False) -> None:
    """Import transformers (and peft) completely, once per process, before any thread uses them."""
    wanted = {"transformers", "peft"} if with_peft else {"transformers"}
    if wanted <= _ready:
        return
    with _lock:
        if "transformers" not in _ready:
            import transformers

            for name in _CLASSES:
                getattr(transformers, name)
            _ready.add("transformers")
        if with_peft and "peft" not in _ready:
            import peft  # noqa: F401 - imports transformers submodules of its own

            _ready.add("peft")


def hub_cache_dir() -> str:
    """The HF hub cache, read from the environment now (not at huggingface_hub's import): the folder the worker
    and every later call will use."""
    from huggingface_hub import constants

    home = os.environ.get("HF_HOME")
    return os.environ.get("HF_HUB_CACHE") or (os.path.join(home, "hub") if home else constants.HF_HUB_CACHE)


def cached_snapshots() -> dict[str, Path]:
    """Model repositories in the HF cache by hub id, each with its newest snapshot folder."""
    root = Path(hub_cache_dir())
    out = {}
    for repo in sorted(root.glob("models--*--*")) if root.is_dir() else []:
        snapshots = sorted((p for p in (repo / "snapshots").glob("*") if p.is_dir()), key=lambda p: p.stat().st_mtime)
        if snapshots:
            out[repo.name[len("models--"):].replace("--", "/", 1)] = snapshots[-1]
    return out


def cached_snapshot(repo_id: str) -> str | None:
    """The local folder of a hub model already in the cache (its config.json is there), else None."""
    from huggingface_hub import try_to_load_from_cache

    try:
        found = try_to_load_from_cache(repo_id, "config.json", cache_dir=hub_cache_dir())
    except ValueError:  # not a repo id the cache can hold
        return None
    return os.path.dirname(found) if isinstance(found, str) else None


def hub_issue(repo_id: str, timeout_s: float = 3.0) -> tuple[str, dict[str, str]] | None:
    """Why a hub model could not be loaded here, before any launch: None when its config is in the local cache
    or the hub answers; else a message key and its fields (offline mode, or the hub unreachable)."""
    import urllib.error
    import urllib.request

    if cached_snapshot(repo_id) is not None:
        return None
    if os.environ.get("HF_HUB_OFFLINE", "").lower() in ("1", "true", "yes", "on"):
        return "config.model_hub_offline", {"path": repo_id}
    url = os.environ.get("HF_ENDPOINT", "https://huggingface.co").rstrip("/")
    try:
        urllib.request.urlopen(urllib.request.Request(f"{url}/api/models/{repo_id}", method="HEAD"), timeout=timeout_s)
    except urllib.error.HTTPError:
        return None  # the hub answered (a 401/404 is said by the download, with its own reason)
    except (urllib.error.URLError, OSError) as exc:
        reason = str(getattr(exc, "reason", exc))[:200]
        return "config.model_hub_unreachable", {"path": repo_id, "url": url, "reason": reason}
    return None
