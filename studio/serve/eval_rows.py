"""The rows an eval job answers, read from the dataset (a run's held-out rows, or any registered dataset, rows
without an answer included), written as prompts, with their references as LLaMA-Factory scores them; which
scores the data gets and why; one row's scores."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from itertools import islice
from pathlib import Path
from typing import Any

from studio.core.config import RunConfig
from studio.core.errors import StudioError
from studio.core.messages import render
from studio.core.workspace import Workspace
from studio.data.conversation import Conversation
from studio.data.load import converted, entry_for
from studio.encode.encoder import IGNORE, Encoded, Encoder, Options
from studio.model.load import model_path
from studio.serve import scores as sc
from studio.serve import sqlmatch


@dataclass
class Row:
    index: int
    source: str  # "file row N"
    prompt: Conversation  # ends with the user turn the answer follows
    answer: str | None  # the reference answer as the data writes it; None: the row has none
    reference: str | None  # the same as LLaMA-Factory scores it: its label tokens decoded
    raw: dict[str, Any]
    prompt_ids: list[int]
    full: Encoded | None  # prompt + answer with the answer's labels, for the loss
    cut: bool = False  # the prompt was longer than cutoff_len and lost its start
    images: tuple[str, ...] = ()  # the prompt's pictures, as paths the worker opens (the encoder vetted them)


# rows -------------------------------------------------------------------------------------------------------

def _held_out(cfg: RunConfig, ws: Workspace, tokenizer: Any) -> list[str]:
    """The sources of the rows the run held out: its own encoding and seeded split, repeated."""
    from studio.encode.cache import cached_dataset
    from studio.train.trainer import split

    rows, summary = cached_dataset(ws.cache_dir, ws.registry_file, cfg.dataset, tokenizer,
                                   Path(model_path(cfg, ws)), cfg.template, Options.of(cfg))
    _, held = split(rows, cfg, summary.rows)
    return list(held["source"])


def load_rows(cfg: RunConfig, ws: Workspace, tokenizer: Any, template: Any, media: Any) -> tuple[list[Row], Said]:
    """The rows evaluated, in dataset order, and a line saying which they are."""
    entry = entry_for(ws.registry_file, cfg.dataset)
    cap = entry.raw.get("num_samples")
    found: dict[str, tuple[dict[str, Any], Conversation]] = {}
    for record, result in islice(converted(entry, ws.data_dir, answers=False), cap if isinstance(cap, int) and cap > 0 else None):
        if isinstance(result, Conversation):
            found[f"{record.file} row {record.number}"] = (record.row, result)
    if cfg.eval_dataset:
        sources, key = list(found), "eval.about_dataset"
        fields: dict[str, Any] = {"dataset": cfg.dataset, "rows": len(sources)}
    else:
        sources, key = _held_out(cfg, ws, tokenizer), "eval.about_heldout"
        fields = {"rows": len(sources), "run": cfg.eval_run, "val_size": cfg.val_size, "seed": cfg.seed}
    if cfg.max_samples and len(sources) > cfg.max_samples:
        key, fields["limit"] = f"{key}_first", cfg.max_samples
        sources = sources[:cfg.max_samples]
    what = Said(key, fields)
    scoring = Encoder(template, tokenizer, dataclasses.replace(Options.of(cfg), mask_history=True,
                                                               train_on_prompt=False), media)
    prompting = Encoder(template, tokenizer, dataclasses.replace(Options.of(cfg), cutoff_len=1 << 30), media)
    rows = []
    for index, source in enumerate(sources):
        raw, conv = found[source]
        has_answer = conv.turns and conv.turns[-1].role == "assistant" and conv.turns[-1].content.strip()
        prompt = dataclasses.replace(conv, turns=conv.turns[:-1]) if conv.turns[-1].role == "assistant" else conv
        try:
            ids = prompting.prompt_ids(prompt)
        except ValueError as exc:
            raise StudioError("eval.bad_row", source=source, reason=str(exc)[:200]) from None
        cut = len(ids) > cfg.cutoff_len and not conv.images
        if cut:  # keep the template's head (system prompt prefix) and the end, which the answer follows
            head = prompting.keep_head
            ids = ids[:head] + ids[len(ids) - (cfg.cutoff_len - head):]
        full, reference = None, None
        if has_answer:
            encoded = scoring.encode(conv)
            if isinstance(encoded, Encoded):
                full = encoded
                reference = tokenizer.decode([t for t in encoded.labels if t != IGNORE], skip_special_tokens=True)
            else:
                reference = conv.turns[-1].content
        pictures = tuple(str(media.root / p) for p in prompt.images) if media is not None else ()
        rows.append(Row(index, source, prompt, conv.turns[-1].content if has_answer else None, reference, raw, ids,
                        full, cut, pictures))
    return rows, what


# what is scored --------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Said:
    """A sentence kept as its message key and fields: the page shows it in its own language."""
    key: str
    fields: dict[str, Any]

    def text(self, lang: str = "en") -> str:
        return render(self.key, lang, **self.fields)

    def stored(self, prefix: str) -> dict[str, Any]:
        return {prefix: self.text(), f"{prefix}_key": self.key, f"{prefix}_fields": self.fields}


def offered(cfg: RunConfig, ws: Workspace, rows: list[Row]) -> dict[str, dict[str, Any]]:
    """Which scores this data gets, each with the reason (or the reason it does not)."""
    with_answer = [r for r in rows if r.reference is not None]
    text = (Said("eval.why_text", {"n": len(with_answer), "total": len(rows)}) if with_answer
            else Said("eval.why_no_text", {}))
    out: dict[str, dict[str, Any]] = {"text": {"on": bool(with_answer), "rows": len(with_answer), **text.stored("why")}}
    json_rows = sum(sc.is_json_answer(r.answer or "") for r in with_answer)
    out["json"] = {"on": bool(with_answer) and json_rows * 2 >= len(with_answer), "rows": json_rows,
                   **Said("eval.why_json", {"n": json_rows, "total": len(with_answer)}).stored("why")}
    sql_rows = sum(bool(str(r.raw.get("db_id") or "").strip()) for r in with_answer)
    if not sql_rows:
        why, on = Said("eval.why_no_db", {}), False
    elif not cfg.sql_db_dir:
        why, on = Said("eval.why_sql_off", {"n": sql_rows}), False
    else:
        why, on = Said("eval.why_sql", {"n": sql_rows, "folder": cfg.sql_db_dir}), True
    out["sql"] = {"on": on, "rows": sql_rows, **why.stored("why")}
    if on:
        out["sql"]["folder"] = str(ws.confine(cfg.sql_db_dir))
    return out


def row_scores(cfg: RunConfig, row: Row, prediction: str, offer: dict[str, dict[str, Any]]) -> dict[str, Any]:
    if row.reference is None:
        return {}
    out: dict[str, Any] = sc.text_scores(prediction, row.reference)
    if offer["json"]["on"]:
        out |= sc.json_scores(prediction, row.answer or "")
    db_id = str(row.raw.get("db_id") or "").strip()
    if offer["sql"]["on"] and db_id:
        kind, detail = sqlmatch.execution_match(Path(offer["sql"]["folder"]), db_id, prediction.strip(),
                                                (row.answer or "").strip(), cfg.sql_timeout_s)
        out |= {"sql": kind, "sql_detail": detail[:200]}
    return out
