"""What every tab gets: the workspace, the language switch, a relabel registry and the error boundary."""

from __future__ import annotations

import functools
import inspect
import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import gradio as gr

from studio.core.errors import StudioError
from studio.core.messages import Both, render
from studio.core.workspace import Workspace

log = logging.getLogger("studio.ui")
Relabel = Callable[[str], Any]


Wiring = tuple[Callable[..., Any], list[Any], list[Any]]


@dataclass
class Ctx:
    ws: Workspace
    lang: str  # the language the page is first drawn in
    blocks: gr.Blocks
    lang_input: gr.components.Component
    models_seen: gr.State  # changes when the demo model appears: model lists are read again then
    relabels: list[tuple[gr.blocks.Block, Relabel]] = field(default_factory=list)
    loads: list[Wiring] = field(default_factory=list)

    def i18n(self, block: gr.blocks.Block, fn: Relabel) -> Any:
        """Register how `block` is re-labelled when the language changes; returns the block."""
        self.relabels.append((block, fn))
        return block

    def on_load(self, fn: Callable[..., Any], inputs: list[Any], outputs: list[Any]) -> None:
        """Run when a page opens, after its language is restored from the browser (so `fn` sees that language)."""
        self.loads.append((fn, inputs, outputs))

    def on_models(self, fn: Callable[..., Any], inputs: list[Any], outputs: list[Any]) -> None:
        """Run on page load and again when the model folders change (the demo model appearing)."""
        self.on_load(fn, inputs, outputs)
        self.models_seen.change(fn, inputs, outputs, show_progress="hidden")

    def on_lang(self, fn: Callable[..., Any], inputs: list[Any], outputs: list[Any]) -> None:
        """Text computed from state (not a fixed label) is computed again in the new language."""
        self.lang_input.change(fn, inputs, outputs, show_progress="hidden")

    def said(self, component: gr.components.Component) -> gr.State:
        """A State holding what `component` last said in both languages ((en, zh), see `both_ways`): the
        component says it again in the other language when the language changes."""
        state = gr.State(None)
        self.on_lang(lambda lg, pair: gr.update() if not pair else pair[1 if lg == "zh" else 0],
                     [self.lang_input, state], [component])
        return state

    def model_choices(self, current: str | None) -> dict[str, Any]:
        """The local model folders and cached hub models as a dropdown update, keeping the current choice when it is
        still there."""
        models = self.ws.local_models() + self.ws.cached_models()
        return gr.update(choices=models, value=current if current in models else (models[0] if models else None))

    def model_dir(self, model: str | None) -> Path:
        """A model folder the page named, inside the model folders (a hub id is not read here)."""
        local = self.ws.local_model_dir(model or "")
        if local is None:
            raise StudioError("config.model_missing", path=model)
        return local


def both_ways(text_of: Callable[[str], str]) -> tuple[str, str]:
    """A text in English and Chinese, for a `Ctx.said` State."""
    return text_of("en"), text_of("zh")


def _fail(err: BaseException, lang: str) -> gr.Error:
    if isinstance(err, StudioError):
        return gr.Error(err.text(lang))
    log.exception("internal error in a UI callback")
    return gr.Error(render("internal", lang, where="server log"))


def guarded(fn: Callable[..., Any]) -> Callable[..., Any]:
    """The UI boundary: a StudioError shows as its sentence; anything else is logged and shown as internal."""
    if inspect.isgeneratorfunction(fn):
        @functools.wraps(fn)
        def gen_wrapper(lang: str, *args: Any) -> Any:
            try:
                yield from fn(lang, *args)
            except gr.Error:
                raise
            except Exception as err:
                raise _fail(err, lang) from None
        return gen_wrapper

    @functools.wraps(fn)
    def wrapper(lang: str, *args: Any) -> Any:
        try:
            return fn(lang, *args)
        except gr.Error:
            raise
        except Exception as err:
            raise _fail(err, lang) from None
    return wrapper


def stepwise(work: Callable[[Callable[[Any], None]], Any], poll_s: float = 0.2) -> Any:
    """Run `work(say)` in a thread; yield (sentences said so far, None, False) as they come, then (all, result, True).

    How a blocking load or export shows its progress in a generator callback; its exception is re-raised here."""
    import queue
    import threading

    said: queue.Queue[Any] = queue.Queue()
    box: dict[str, Any] = {}

    def target() -> None:
        try:
            box["result"] = work(said.put)
        except BaseException as err:
            box["error"] = err

    thread = threading.Thread(target=target, daemon=True)
    thread.start()
    lines: list[Any] = []
    while thread.is_alive() or not said.empty():
        try:
            lines.append(said.get(timeout=poll_s))
            yield lines, None, False
        except queue.Empty:
            continue
    thread.join()
    if "error" in box:
        raise box["error"]
    yield lines, box.get("result"), True


def said_text(lines: list[Any], lang: str) -> str:
    """Progress sentences (each in both languages) as one Markdown block in the page's language."""
    return "\n\n".join(line.text(lang) if isinstance(line, Both) else str(line) for line in lines)
