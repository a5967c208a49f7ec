"""Chat tab: pick a finished run, load its adapter on its base model, and chat with streamed replies."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import gradio as gr

from studio import chat
from studio.errors import StudioError
from studio.ui.context import Ctx, guarded
from studio.ui.i18n import t


@dataclass
class ChatHandles:
    run: gr.Dropdown
    refresh: Any


def plain(history: list[dict[str, Any]]) -> list[dict[str, str]]:
    """Chatbot history (content may be a list of text blocks) -> role/content strings."""
    out = []
    for m in history:
        content = m["content"]
        if isinstance(content, list):
            content = "".join(b.get("text", "") for b in content if isinstance(b, dict))
        out.append({"role": m["role"], "content": str(content)})
    return out


def build(ctx: Ctx) -> ChatHandles:
    lang = ctx.lang
    target = gr.State(None)
    with gr.Row():
        run = ctx.i18n(gr.Dropdown(choices=[], label=t("chat.run", lang), elem_id="chat-run", scale=3),
                       lambda lg: gr.update(label=t("chat.run", lg)))
        load = ctx.i18n(gr.Button(t("chat.load", lang), elem_id="chat-load", scale=1),
                        lambda lg: gr.update(value=t("chat.load", lg)))
    loaded = gr.Markdown(t("chat.nothing", lang), elem_id="chat-loaded")
    box = ctx.i18n(gr.Chatbot(label=t("chat.box", lang), height=380, elem_id="chat-box"),
                   lambda lg: gr.update(label=t("chat.box", lg)))
    with gr.Row():
        message = ctx.i18n(gr.Textbox(label=t("chat.input", lang), placeholder=t("chat.placeholder", lang),
                                      elem_id="chat-input", scale=4),
                           lambda lg: gr.update(label=t("chat.input", lg), placeholder=t("chat.placeholder", lg)))
        send = ctx.i18n(gr.Button(t("chat.send", lang), variant="primary", elem_id="chat-send", scale=1),
                        lambda lg: gr.update(value=t("chat.send", lg)))
        clear = ctx.i18n(gr.Button(t("chat.clear", lang), elem_id="chat-clear", scale=1),
                         lambda lg: gr.update(value=t("chat.clear", lg)))
    stats = gr.Markdown(elem_id="chat-stats")
    with gr.Row():
        system = ctx.i18n(gr.Textbox(label=t("chat.system", lang), elem_id="chat-system", scale=3),
                          lambda lg: gr.update(label=t("chat.system", lg)))
        max_new = ctx.i18n(gr.Number(value=64, minimum=1, maximum=8192, precision=0, elem_id="chat-max-new-tokens",
                                     label=t("chat.max_new_tokens", lang)),
                           lambda lg: gr.update(label=t("chat.max_new_tokens", lg)))
        temperature = ctx.i18n(gr.Number(value=0.0, minimum=0.0, maximum=2.0, elem_id="chat-temperature",
                                         label=t("chat.temperature", lang)),
                               lambda lg: gr.update(label=t("chat.temperature", lg)))

    def refresh(lang: str, current: str | None):
        ids = chat.chat_runs(ctx.ws)
        return gr.update(choices=ids, value=current if current in ids else (ids[0] if ids else None))

    @guarded
    def on_load(lang: str, run_id: str | None):
        if not run_id:
            raise StudioError("chat.not_loaded")
        tgt = chat.run_target(ctx.ws, run_id)
        cm = chat.get_or_load(tgt)
        return tgt, t("chat.loaded", lang, what=cm.describe())

    @guarded
    def on_send(lang: str, text: str, history: list, tgt: chat.ChatTarget | None, sys_prompt: str,
                max_tokens: float, temp: float):
        if tgt is None:
            raise StudioError("chat.not_loaded")
        if not text.strip():
            raise StudioError("chat.empty")
        settings = chat.GenSettings(max_new_tokens=int(max_tokens or 64), temperature=float(temp or 0.0))
        messages = plain(history) + [{"role": "user", "content": text}]
        st = chat.ReplyStats()
        shown = [*messages, {"role": "assistant", "content": ""}]
        for partial in chat.stream_reply(chat.get_or_load(tgt), messages, settings, system=sys_prompt, stats=st):
            shown[-1] = {"role": "assistant", "content": partial}
            yield shown, "", ""
        yield shown, "", t("chat.stats", lang, ttft=f"{st.first_token_s:.3f}", tps=f"{st.tokens_per_s:.0f}",
                           n=st.tokens)

    load.click(on_load, [ctx.lang_input, run], [target, loaded])
    send_inputs = [ctx.lang_input, message, box, target, system, max_new, temperature]
    send.click(on_send, send_inputs, [box, message, stats])
    message.submit(on_send, send_inputs, [box, message, stats])
    clear.click(lambda: ([], ""), None, [box, stats])
    ctx.blocks.load(refresh, [ctx.lang_input, run], [run])
    return ChatHandles(run, refresh)
