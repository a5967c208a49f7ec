"""What the model learns from one row: the training encoder's ids and labels, shown as text spans and tokens."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from studio.core.errors import StudioError
from studio.core.messages import render
from studio.data.actions import preview
from studio.data.conversation import Conversation
from studio.encode.encoder import Dropped, Encoder, Media, Options, spans, token_rows
from studio.model.info import load_tokenizer
from studio.model.vision import sees_images
from studio.templates.registry import make_template


@dataclass
class Learned:
    file: str
    row: int
    template: str
    spans: list[tuple[str, bool]] = field(default_factory=list)  # (text, trained?) decoded from the ids
    tokens: list[tuple[str, int, bool]] = field(default_factory=list)  # (token, id, trained?)
    truncated: str = ""
    dropped: str = ""  # message key when the encoder drops the row
    detail: str = ""  # what the drop names (an image file and its reason)
    images: list[dict[str, Any]] = field(default_factory=list)  # per image: name, tokens, size (w, h) the model sees
    side: str = ""  # a preference row: chosen / rejected (pairs) or good / bad (KTO)
    other: Learned | None = None  # a pair's rejected side, shown under the chosen one

    @property
    def total(self) -> int:
        return len(self.tokens)

    @property
    def trained(self) -> int:
        return sum(1 for _, _, on in self.tokens if on)

    def to_json(self, lang: str = "en") -> dict[str, Any]:
        out = {"file": self.file, "row": self.row, "template": self.template, "tokens": self.total,
               "trained_tokens": self.trained, "truncated": self.truncated,
               "dropped": render(self.dropped, lang, detail=self.detail) if self.dropped else "",
               "images": self.images, "spans": [{"text": s, "trained": on} for s, on in self.spans]}
        if self.side:
            out["side"] = self.side
        return out | ({"rejected": self.other.to_json(lang)} if self.other else {})


def _learn_preference(record: Any, item: Any, tokenizer: Any, template: str, options: Options) -> Learned:
    """A pair's two sequences (the chosen answer is pushed up, the rejected one down) or a KTO row's answer,
    encoded as preference training encodes them."""
    from studio.encode.encoder import Encoded
    from studio.encode.pairs import encode_rows

    encoder = Encoder(make_template(template, tokenizer), tokenizer, options)
    result = encode_rows(encoder, [item], item.kto)[0]
    learned = Learned(record.file, record.number, template)
    if isinstance(result, Dropped):
        learned.dropped, learned.detail = result.reason, result.detail
        return learned
    if item.kto:
        sides = [("good" if result.kto_tag else "bad", Encoded(result.input_ids, result.labels, result.truncated))]
    else:
        sides = [("chosen", Encoded(result.chosen_input_ids, result.chosen_labels, result.truncated)),
                 ("rejected", Encoded(result.rejected_input_ids, result.rejected_labels, result.truncated))]
    views = [Learned(record.file, record.number, template, spans(enc, tokenizer), token_rows(enc, tokenizer),
                     enc.truncated, side=side) for side, enc in sides]
    views[0].other = views[1] if len(views) > 1 else None
    return views[0]


def learn_row(data_dir: Path, dataset: str, row: int, model: Path, template: str, options: Options,
              trust_remote_code: bool = False) -> Learned:
    """Row `row` (1-based) of a registered dataset, encoded exactly as training would encode it."""
    items, _ = preview(data_dir, dataset, max(row, 1) - 1, 1)
    if not items:
        raise StudioError("learn.no_row", name=dataset, row=row)
    record, conv = items[0]
    if isinstance(conv, StudioError):
        raise conv
    tokenizer = load_tokenizer(model, trust_remote_code)
    if not isinstance(conv, Conversation):  # a preference row
        return _learn_preference(record, conv, tokenizer, template, options)
    media = Media.of(data_dir, model, options) if sees_images(model) and not options.text_only else None
    result = Encoder(make_template(template, tokenizer), tokenizer, options, media).encode(conv)
    learned = Learned(record.file, record.number, template)
    if isinstance(result, Dropped):
        learned.dropped, learned.detail = result.reason, result.detail
        return learned
    learned.spans = spans(result, tokenizer)
    learned.tokens = token_rows(result, tokenizer)
    learned.truncated = result.truncated
    if media is not None:
        learned.images = [{"name": Path(path).name, "tokens": media.spec.tokens(grid),
                           "size": [grid[2] * media.spec.patch, grid[1] * media.spec.patch]}
                          for path, grid in zip(result.images, result.grids, strict=True)]
    return learned


def proposed_template(model: Path, trust_remote_code: bool = False) -> str:
    from studio.model.info import propose_template

    return propose_template(model, load_tokenizer(model, trust_remote_code))[0]
