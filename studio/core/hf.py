"""A thread-safe first import of transformers and peft.

transformers resolves its classes lazily on first attribute access; two threads making that first access at
once can see a half-initialised module ("cannot import name 'AutoTokenizer'"). UI callbacks run in worker
threads (a chat load while the Train tab reads a tokenizer), so the first touch goes through one lock."""

from __future__ import annotations

import threading

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
