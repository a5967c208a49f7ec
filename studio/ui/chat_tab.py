"""Chat tab: load a run's final weights or a checkpoint (or a model folder), chat with streamed replies, and
compare the base model with the tuned one on one prompt. What it loads and generates is studio.serve.chat's."""

from __future__ import annotations

import dataclasses
import html
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import gradio as gr

from studio.core.errors import StudioError
from studio.core.messages import render
from studio.serve import chat
from studio.serve import memory as chat_memory
from studio.serve import targets as chat_targets
from studio.templates.named import TEMPLATE_NAMES
from studio.ui.context import Ctx, both_ways, guarded, said_text, stepwise
from studio.ui.i18n import t


@dataclass
class ChatHandles:
    run: gr.Dropdown
    refresh: Any


NOTE = "⌀ "  # opens the page's note in place of an empty reply: the prompt gets the empty reply back, not the note
REGENERATE_TEMPERATURE = 0.7  # Regenerate at temperature 0 samples at this one: greedy would repeat the reply


def flat(history: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Chatbot history (content may be a list of text and file blocks) -> role/content strings, as shown, with
    a message's pictures under "images"."""
    out = []
    for m in history:
        content, images = m["content"], []
        if isinstance(content, dict):
            content = [content]
        if isinstance(content, list):
            blocks = [b for b in content if isinstance(b, dict)]
            images = [str((b.get("file") or b).get("path")) for b in blocks if b.get("type") == "file" or "path" in b]
            content = "".join(b.get("text", "") for b in blocks)
        out.append({"role": m["role"], "content": str(content), **({"images": images} if images else {})})
    return out


def plain(history: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The history as the model is given it: a note in place of an empty reply is that empty reply again."""
    return [{**m, "content": "" if m["role"] == "assistant" and m["content"].startswith(NOTE) else m["content"]}
            for m in flat(history)]


def shown_message(message: dict[str, Any]) -> dict[str, Any]:
    """A message as the chat box shows it: its pictures first, then its text."""
    if not message.get("images"):
        return {"role": message["role"], "content": message["content"]}
    return {"role": message["role"], "content": [*({"path": p} for p in message["images"]), message["content"]]}


def regenerate_values(values: tuple[Any, ...]) -> tuple[tuple[Any, ...], bool]:
    """Settings for Regenerate: the next seed, and sampling when greedy (which would give the same reply).
    Returns the values and whether the temperature was raised for this reply."""
    names = [f.name for f in dataclasses.fields(chat.GenSettings)]
    out = list(values)
    seed, temp = names.index("seed"), names.index("temperature")
    out[seed] = int(out[seed] or 0) + 1
    raised = not out[temp]
    if raised:
        out[temp] = REGENERATE_TEMPERATURE
    return tuple(out), raised


def settings_of(values: tuple[Any, ...]) -> chat.GenSettings:
    """The settings boxes' values as GenSettings; an empty or non-number value is a sentence naming it."""
    kinds = dataclasses.fields(chat.GenSettings)
    empty = next((f for f, v in zip(kinds, values, strict=True) if v is None), None)
    if empty:  # an emptied number box arrives as None
        low, high = empty.metadata["range"]
        raise StudioError("chat.bad_setting", field=empty.name, value="(empty)", low=low, high=high)
    settings = {}
    for f, value in zip(kinds, values, strict=True):
        try:
            settings[f.name] = type(f.default)(value)
        except (TypeError, ValueError, OverflowError):  # a value the API sent that is no number
            low, high = f.metadata["range"]
            raise StudioError("chat.bad_setting", field=f.name, value=str(value)[:40], low=low, high=high) from None
    return chat.GenSettings(**settings)


def run_pickers(ctx: Ctx) -> tuple[Any, Any]:
    """The run dropdown's refresh and the weights dropdown's update on a run change (Chat and Export share them)."""
    @guarded
    def refresh(lang: str, current: str | None):
        ids = chat_targets.chat_runs(ctx.ws)
        return gr.update(choices=ids, value=current if current in ids else (ids[0] if ids else None),
                         info="" if ids else t("chat.no_runs", lang))  # an empty list says what fills it

    @guarded
    def on_run(lang: str, run_id: str | None):
        choices = chat_targets.weight_choices(ctx.ws, run_id) if run_id else []
        return gr.update(choices=choices, value=choices[0] if choices else None)

    return refresh, on_run


def build(ctx: Ctx) -> ChatHandles:
    lang = ctx.lang

    def lab(component: Any, key: str) -> Any:
        return ctx.i18n(component, lambda lg: gr.update(label=t(key, lg)))

    def btn(component: Any, key: str) -> Any:
        return ctx.i18n(component, lambda lg: gr.update(value=t(key, lg)))

    target = gr.State(None)
    source_choices = lambda lg: [(t("chat.source_run", lg), "run"), (t("chat.source_model", lg), "model")]  # noqa: E731
    source = ctx.i18n(gr.Radio(source_choices(lang), value="run", label=t("chat.source", lang),
                               elem_id="chat-source"),
                      lambda lg: gr.update(label=t("chat.source", lg), choices=source_choices(lg)))
    with gr.Row(visible=True) as run_row:
        run = lab(gr.Dropdown(choices=[], label=t("chat.run", lang), elem_id="chat-run", scale=2), "chat.run")
        weights = lab(gr.Dropdown(choices=[], label=t("chat.weights", lang), elem_id="chat-weights", scale=2),
                      "chat.weights")
    with gr.Row(visible=False) as model_row:
        model = lab(gr.Textbox(label=t("chat.model", lang), placeholder="models/demo-tiny", elem_id="chat-model",
                               scale=2), "chat.model")
        adapter = lab(gr.Textbox(label=t("chat.adapter", lang), placeholder="runs/RUN/adapter",
                                 elem_id="chat-adapter", scale=2), "chat.adapter")
        template = lab(gr.Dropdown(choices=list(TEMPLATE_NAMES), value="chatml", label=t("chat.template", lang),
                                   elem_id="chat-template", scale=1), "chat.template")
    backend = lab(gr.Radio(["transformers", "unsloth"], value="transformers", label=t("chat.backend", lang),
                           visible=chat.unsloth_available(), elem_id="chat-backend"), "chat.backend")
    with gr.Row():
        load = btn(gr.Button(t("chat.load", lang), variant="primary", elem_id="chat-load"), "chat.load")
        unload = btn(gr.Button(t("chat.unload", lang), elem_id="chat-unload"), "chat.unload")
    loaded = gr.Markdown(t("chat.nothing", lang), elem_id="chat-loaded")
    with ctx.i18n(gr.Accordion(t("chat.settings", lang), open=False, elem_id="chat-settings"),
                  lambda lg: gr.update(label=t("chat.settings", lg))):
        system = lab(gr.Textbox(label=t("chat.system", lang), elem_id="chat-system"), "chat.system")
        with gr.Row():
            numbers = tuple(  # defaults and number kinds from GenSettings, the one declaration
                lab(gr.Number(f.default, precision=0 if isinstance(f.default, int) else None,
                              step=1 if isinstance(f.default, int) else 0.05, label=t(f"chat.{f.name}", lang),
                              elem_id=f"chat-{f.name.replace('_', '-')}"), f"chat.{f.name}")
                for f in dataclasses.fields(chat.GenSettings))
    box = lab(gr.Chatbot(label=t("chat.box", lang), height=360, elem_id="chat-box", buttons=["copy"]),
              "chat.box")
    with gr.Row(equal_height=True):
        picture = lab(gr.Image(label=t("chat.image", lang), type="filepath", sources=["upload", "clipboard"],
                               height=120, elem_id="chat-image", scale=1, min_width=120), "chat.image")
        message = ctx.i18n(gr.Textbox(label=t("chat.input", lang), placeholder=t("chat.placeholder", lang),
                                      elem_id="chat-input", scale=4),
                           lambda lg: gr.update(label=t("chat.input", lg), placeholder=t("chat.placeholder", lg)))
        send = btn(gr.Button(t("chat.send", lang), variant="primary", elem_id="chat-send", scale=1), "chat.send")
        again = btn(gr.Button(t("chat.regenerate", lang), elem_id="chat-regenerate", scale=1), "chat.regenerate")
        clear = btn(gr.Button(t("chat.clear", lang), elem_id="chat-clear", scale=1), "chat.clear")
    stats = gr.Markdown(elem_id="chat-stats")
    with ctx.i18n(gr.Accordion(t("chat.compare", lang), open=False, elem_id="chat-compare-panel"),
                  lambda lg: gr.update(label=t("chat.compare", lg))):
        hint = ctx.i18n(gr.Markdown(t("chat.compare_hint", lang)), lambda lg: gr.update(value=t("chat.compare_hint", lg)))
        with gr.Row():
            compare_input = lab(gr.Textbox(label=t("chat.compare_input", lang), elem_id="chat-compare-input",
                                           scale=4), "chat.compare_input")
            compare = btn(gr.Button(t("chat.compare_run", lang), variant="primary", elem_id="chat-compare",
                                    scale=1), "chat.compare_run")
        columns, panels = [], {}
        with gr.Row(equal_height=True):
            for side in ("base", "start", "tuned"):
                with gr.Column(elem_id=f"chat-side-{side}", variant="panel", visible=side != "start") as panel:
                    ctx.i18n(gr.Markdown(t(f"chat.side_{side}", lang)),
                             lambda lg, k=f"chat.side_{side}": gr.update(value=t(k, lg)))
                    columns.append((gr.Markdown(elem_id=f"chat-{side}-reply"),
                                    gr.Markdown(elem_id=f"chat-{side}-stats")))
                panels[side] = panel
    del hint

    refresh, on_run = run_pickers(ctx)

    def loaded_line(cm: chat.ChatModel, lang: str) -> str:
        return t("chat.loaded", lang, what=cm.target.describe().replace(f"{ctx.ws.root}/", ""),
                 template=cm.template.name)

    def on_source(choice: str):
        return gr.update(visible=choice == "run"), gr.update(visible=choice == "model")

    @guarded
    def on_load(lang: str, choice: str, run_id: str | None, which: str | None, model_dir: str, adapter_dir: str,
                template_name: str, engine: str, held: chat_targets.ChatTarget | None = None):
        try:
            tgt = chat_targets.page_target(ctx.ws, choice, run_id, which, model_dir, adapter_dir, template_name,
                                           engine)
        except StudioError as err:  # refused before anything is read: what is loaded stays loaded, and says so
            yield gr.update(), f"⚠ {html.escape(err.text(lang))}\n\n{loaded_text(lang, held)}"
            return
        note = chat_memory.memory_note(ctx.ws, tgt, lang)
        head = f"⚠️ {note}\n\n" if note else ""
        yield tgt, head + "…"  # a message sent meanwhile waits for this load instead of failing
        try:
            for lines, cm, done in stepwise(lambda say: chat.get_or_load(tgt, say)):
                if done:
                    yield tgt, head + loaded_line(cm, lang)
                else:
                    yield tgt, head + said_text(lines, lang)
        except StudioError as err:  # the previous model was freed first: nothing is loaded now
            yield None, f"⚠ {html.escape(err.text(lang))}\n\n{t('chat.nothing', lang)}"

    @guarded
    def on_unload(lang: str):
        if not chat.unload():
            return None, render("chat.nothing_loaded", lang)
        return None, render("chat.unloaded", lang, rss=f"{chat_memory.process_rss() / 2**20:.0f}")

    def _model(tgt: chat_targets.ChatTarget | None) -> chat.ChatModel:
        if tgt is None:
            raise StudioError("chat.not_loaded")
        return chat.get_or_load(tgt)  # another browser may have loaded something else meanwhile

    def pictures(image: str | None) -> list[str]:
        """An uploaded picture's path, only from the server's own upload folder (a crafted call names any path)."""
        if not image:
            return []
        path, root = Path(image).resolve(), ctx.ws.uploads_dir.resolve()
        if root not in path.parents or not path.is_file():
            raise StudioError("chat.bad_image", reason=f"{Path(image).name}: not an uploaded file")
        return [str(path)]

    @guarded
    def on_send(lang: str, text: str, history: list, tgt: chat_targets.ChatTarget | None, sys_prompt: str,
                image: str | None, *values: Any):
        settings = settings_of(values)
        settings.check()
        if not (text or "").strip():
            raise StudioError("chat.empty")
        new = {"role": "user", "content": text, **({"images": own} if (own := pictures(image)) else {})}
        earlier = [{**m, "images": [p for image in m["images"] for p in pictures(image)]} if m.get("images") else m
                   for m in plain(history)]  # a history's pictures too come only from the upload folder
        messages = earlier + [new]
        st = chat.ReplyStats()
        shown = [*map(shown_message, flat(history)), shown_message(new), {"role": "assistant", "content": ""}]
        partial = ""
        for partial in chat.stream_reply(_model(tgt), messages, settings, system=sys_prompt, stats=st):
            shown[-1] = {"role": "assistant", "content": partial}
            yield shown, "", "", None, None
        if not partial:  # the first token was a stop token: say so rather than show an empty bubble
            shown[-1] = {"role": "assistant", "content": NOTE + t("chat.ended_at_once", lang)}
        said = both_ways(st.line)
        yield shown, "", said[lang == "zh"], said, None

    @guarded
    def on_again(lang: str, history: list, tgt: chat_targets.ChatTarget | None, sys_prompt: str, *values: Any):
        turns = plain(history)
        while turns and turns[-1]["role"] == "assistant":
            turns.pop()
        if not turns:
            raise StudioError("chat.empty")
        values, raised = regenerate_values(values)
        names = [f.name for f in dataclasses.fields(chat.GenSettings)]
        seed, temperature = values[names.index("seed")], values[names.index("temperature")]
        note = both_ways(lambda lg: t("chat.regenerated_sampled" if raised else "chat.regenerated", lg, seed=seed,
                                      temperature=temperature))
        last = turns[-1]
        for shown, _, _, said, _ in on_send.__wrapped__(lang, last["content"], turns[:-1], tgt, sys_prompt,
                                                        (last.get("images") or [None])[0], *values):
            said = (f"{said[0]} · {note[0]}", f"{said[1]} · {note[1]}") if said else None
            yield shown, seed, said[lang == "zh"] if said else "", said

    @guarded
    def on_compare(lang: str, prompt: str, tgt: chat_targets.ChatTarget | None, sys_prompt: str,
                   image: str | None, *values: Any):
        settings = settings_of(values)
        settings.check()
        if not (prompt or "").strip():
            raise StudioError("chat.empty")
        cm = _model(tgt)
        asked = {"role": "user", "content": prompt, **({"images": own} if (own := pictures(image)) else {})}
        out: list[Any] = [""] * 6 + [None] * 3  # replies and stats of the three sides, then the stats' States
        for i, side in enumerate(("base", "start", "tuned")):
            if side not in chat.sides(cm):
                continue
            st = chat.ReplyStats()
            for partial in chat.stream_reply(cm, [asked], settings, sys_prompt, st, side=side):
                out[2 * i] = partial
                yield tuple(out)
            out[6 + i] = both_ways(st.line)
            out[2 * i + 1] = out[6 + i][lang == "zh"]
            yield tuple(out)

    source.change(on_source, [source], [run_row, model_row])
    run.change(on_run, [ctx.lang_input, run], [weights])
    load.click(on_load, [ctx.lang_input, source, run, weights, model, adapter, template, backend, target],
               [target, loaded], api_name="chat_load").then(
        lambda tgt: gr.update(visible=tgt is not None and tgt.start is not None and tgt.adapter is not None),
        [target], [panels["start"]], show_progress="hidden")
    unload.click(on_unload, [ctx.lang_input], [target, loaded])

    def loaded_text(lang: str, tgt: chat_targets.ChatTarget | None) -> str:
        cm = chat.current()
        if tgt is None or cm is None or cm.target != tgt:
            return t("chat.nothing", lang)
        return loaded_line(cm, lang)

    ctx.on_lang(loaded_text, [ctx.lang_input, target], [loaded])
    send_inputs = [ctx.lang_input, message, box, target, system, picture, *numbers]
    stats_said = ctx.said(stats)
    send.click(on_send, send_inputs, [box, message, stats, stats_said, picture], api_name="chat_send")
    message.submit(on_send, send_inputs, [box, message, stats, stats_said, picture])
    again.click(on_again, [ctx.lang_input, box, target, system, *numbers], [box, numbers[-1], stats, stats_said])
    clear.click(lambda: ([], ""), None, [box, stats])
    compare_said = [ctx.said(side_stats) for _, side_stats in columns]
    compare.click(on_compare, [ctx.lang_input, compare_input, target, system, picture, *numbers],
                  [*(c for pair in columns for c in pair), *compare_said])
    ctx.on_load(refresh, [ctx.lang_input, run], [run])
    ctx.on_lang(refresh, [ctx.lang_input, run], [run])
    return ChatHandles(run, refresh)
