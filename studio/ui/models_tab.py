"""Models tab: what the workspace and the Hugging Face cache hold, a hub download with a progress bar that can be
stopped, deleting from the cache, and pushing an export to the hub. The work is studio.model.hub's."""

from __future__ import annotations

import html
import threading
from typing import Any

import gradio as gr
import pandas as pd

from studio.core.errors import StudioError
from studio.core.hf import cached_snapshots
from studio.core.messages import both
from studio.model import hub
from studio.serve import export
from studio.ui.context import Ctx, both_ways, guarded, said_text, stepwise
from studio.ui.i18n import t
from studio.ui.render import Bar

COLUMNS = ("models.col_name", "models.col_where", "models.col_mib", "models.col_type", "models.col_params",
           "models.col_safetensors", "models.col_template", "models.col_vision")


def table(ctx: Ctx, lang: str) -> pd.DataFrame:
    yes, no = t("models.yes", lang), t("models.no", lang)
    rows = [[m.name, t(f"models.where_{m.where}", lang), round(m.size / 2**20, 1), m.arch,
             f"{m.params / 1e6:.2f}M", yes if m.safetensors else no, yes if m.chat_template else no,
             yes if m.vision else no] for m in hub.list_models(ctx.ws)]
    return pd.DataFrame(rows, columns=[t(c, lang) for c in COLUMNS])


def _refused(err: StudioError) -> tuple[str, str]:
    return both_ways(lambda lg: f"⚠ {html.escape(err.text(lg))}")


def build(ctx: Ctx) -> None:
    lang = ctx.lang
    stops: dict[str, set[threading.Event]] = {}  # the downloads running, by repository

    def lab(component: Any, key: str) -> Any:
        return ctx.i18n(component, lambda lg: gr.update(label=t(key, lg)))

    def button(key: str, elem_id: str, variant: str = "secondary") -> gr.Button:
        return ctx.i18n(gr.Button(t(key, lang), variant=variant, elem_id=elem_id),  # type: ignore[arg-type]
                        lambda lg: gr.update(value=t(key, lg)))

    ctx.i18n(gr.Markdown(t("models.intro", lang)), lambda lg: gr.update(value=t("models.intro", lg)))
    # filled by the page's load: a folder nobody can read never stands between the server and its start
    listing = gr.Dataframe(pd.DataFrame(columns=[t(c, lang) for c in COLUMNS]), interactive=False, wrap=True,
                           elem_id="models-table")
    refresh = button("models.refresh", "models-refresh")
    with gr.Row():
        repo = lab(gr.Textbox(label=t("models.repo", lang), placeholder="Qwen/Qwen2.5-0.5B-Instruct",
                              elem_id="models-repo", scale=3), "models.repo")
        fetch = button("models.download", "models-download", "primary")
        halt = button("models.stop", "models-stop", "stop")
    fetch_status = gr.Markdown(elem_id="models-download-status")
    fetch_said = ctx.said(fetch_status)
    with gr.Row():
        cached = lab(gr.Dropdown(choices=[], label=t("models.cached", lang), elem_id="models-cached"), "models.cached")
        confirm = lab(gr.Textbox(label=t("models.confirm", lang), elem_id="models-confirm"), "models.confirm")
        remove = button("models.delete", "models-delete", "stop")
    with gr.Row():
        exports = lab(gr.Dropdown(choices=[], label=t("models.export", lang), elem_id="models-export"),
                      "models.export")
        target = lab(gr.Textbox(label=t("models.push_repo", lang), elem_id="models-push-repo"), "models.push_repo")
        private = lab(gr.Checkbox(True, label=t("models.private", lang), elem_id="models-private"), "models.private")
        push = button("models.push", "models-push")
    status = gr.Markdown(elem_id="models-status")
    status_said = ctx.said(status)

    @guarded
    def lists(lang: str, repo_now: str | None = None, export_now: str | None = None) -> tuple[Any, Any, Any]:
        """The table and both pickers, a picked entry kept while it still exists."""
        repos, names = sorted(cached_snapshots()), export.exports(ctx.ws)
        return (table(ctx, lang), gr.update(choices=repos, value=repo_now if repo_now in repos else None),
                gr.update(choices=names, value=export_now if export_now in names else None))

    @guarded
    def on_download(lang: str, repo_id: str):
        try:
            plan = hub.plan(repo_id)
        except StudioError as err:
            said = _refused(err)
            yield said[lang == "zh"], said
            return
        stop = threading.Event()
        stops.setdefault(plan.repo_id, set()).add(stop)
        head = both("hub.plan", repo=plan.repo_id, files=len(plan.files), total=f"{plan.size / 2**20:.1f}")
        progress = {"bar": Bar(0, plan.size)}

        def work(say: Any) -> Any:
            return hub.download(plan, lambda done, total, seconds: say(Bar(done, total, seconds)), stop)

        try:
            for lines, folder, finished in stepwise(work):
                bars = [line for line in lines if isinstance(line, Bar)]
                progress["bar"] = bars[-1] if bars else progress["bar"]
                done = both("hub.done", repo=plan.repo_id, total=f"{plan.size / 2**20:.1f}", path=html.escape(str(folder)))
                shown = [head, done] if finished else [head, progress["bar"].text()]
                said = both_ways(lambda lg, seen=shown: said_text(seen, lg))
                yield said[lang == "zh"], said
        except hub.Stopped:
            done = f"{progress['bar'].done / 2**20:.1f}"
            said = _refused(StudioError("hub.stopped", repo=plan.repo_id, done=done, total=f"{plan.size / 2**20:.1f}"))
            yield said[lang == "zh"], said
        except StudioError as err:
            said = _refused(err)
            yield said[lang == "zh"], said
        finally:
            running = stops.get(plan.repo_id, set())
            running.discard(stop)
            if not running:
                stops.pop(plan.repo_id, None)

    def on_stop(repo_id: str) -> None:
        """Stops the downloads of the repository named in the box (each download is named; none stops all)."""
        for event in stops.get(repo_id.strip() if isinstance(repo_id, str) else "", set()):
            event.set()

    @guarded
    def on_delete(lang: str, repo_id: str | None, typed: str) -> tuple[str, Any]:
        try:
            if not repo_id:
                raise StudioError("hub.pick")
            if repo_id in stops:
                raise StudioError("hub.busy", repo=repo_id)
            freed = hub.delete_cached(repo_id or "", typed or "")
        except StudioError as err:
            said = _refused(err)
            return said[lang == "zh"], said
        said = both_ways(lambda lg: both("hub.deleted", repo=repo_id, mb=f"{freed / 2**20:.1f}").text(lg))
        return said[lang == "zh"], said

    @guarded
    def on_push(lang: str, name: str | None, repo_id: str, is_private: bool):
        try:
            if not name:
                raise StudioError("hub.pick_export")
            folder = export.pushable(ctx.ws, name or "")
            hub.check_id(repo_id)
        except StudioError as err:
            said = _refused(err)
            yield said[lang == "zh"], said
            return
        yield "…", None
        try:
            url = hub.push(folder, repo_id, bool(is_private))
        except StudioError as err:
            said = _refused(err)
            yield said[lang == "zh"], said
            return
        said = both_ways(lambda lg: both("hub.pushed", folder=name, repo=repo_id.strip(), url=url).text(lg))
        yield said[lang == "zh"], said

    fetch.click(on_download, [ctx.lang_input, repo], [fetch_status, fetch_said], api_name="models_download") \
        .then(lists, [ctx.lang_input, cached, exports], [listing, cached, exports])
    halt.click(on_stop, [repo], [], api_name="models_stop")
    remove.click(on_delete, [ctx.lang_input, cached, confirm], [status, status_said], api_name="models_delete") \
        .then(lists, [ctx.lang_input, cached, exports], [listing, cached, exports])
    push.click(on_push, [ctx.lang_input, exports, target, private], [status, status_said], api_name="models_push")
    refresh.click(lists, [ctx.lang_input, cached, exports], [listing, cached, exports], api_name="models_list")
    ctx.blocks.load(lists, [ctx.lang_input, cached, exports], [listing, cached, exports])
    ctx.on_lang(lists, [ctx.lang_input, cached, exports], [listing, cached, exports])
