"""Messages of slots -> input_ids + labels (-100 = masked): batched tokenization, masking, honest truncation.

Every text slot is tokenized on its own, as LLaMA-Factory does, but all slots of many rows go to
the fast tokenizer in one call (deduplicated: template markup repeats in every row).

Truncation to cutoff_len, when a row is too long: whole oldest (prompt, answer) pairs go first; if
the last pair is still too long, its prompt is cut from the start (keeping the BOS prefix, so the
assistant header right before the answer survives) down to half the budget at most, then the answer
is cut at its end. A row left with no trained token is dropped, with its reason.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from studio.data.conversation import Conversation, Turn
from studio.model.vision import BadImage, ImageSpec, image_size
from studio.templates.named import BOS, EOS, Message, Special
from studio.templates.registry import eos_id
from studio.templates.toolcalls import BadToolText

IGNORE = -100
CHUNK = 4096  # rows per tokenizer call


class TemplateLike(Protocol):
    name: str
    prefix: tuple
    stop_words: tuple[str, ...]
    replace_eos: bool

    def messages(self, conv: Conversation, one_turn: bool = False) -> list[Message]: ...

    def text_messages(self, conv: Conversation) -> list[Message]: ...


@dataclass(frozen=True)
class Options:
    cutoff_len: int
    train_on_prompt: bool = False
    mask_history: bool = False
    text_only: bool = False  # media placeholders taken out (a text-only model training on a media dataset)
    image_max_pixels: int = 768 * 768
    image_min_pixels: int = 32 * 32

    @classmethod
    def of(cls, cfg: Any) -> Options:
        """A run config's encoding options (the fields share their names)."""
        return cls(cfg.cutoff_len, cfg.train_on_prompt, cfg.mask_history, cfg.text_only, cfg.image_max_pixels,
                   cfg.image_min_pixels)


@dataclass(frozen=True)
class Media:
    """Where a dataset's image paths are relative to, and how its images are sized (a vision model's run)."""
    root: Path
    spec: ImageSpec

    @classmethod
    def of(cls, root: Path, model_dir: Path | str, options: Options) -> Media:
        return cls(root, ImageSpec.of(model_dir, options.image_max_pixels, options.image_min_pixels))


class TokenCounts:
    """Counts of a row with input_ids and labels (an SFT row, a KTO answer)."""
    input_ids: list[int]
    labels: list[int]

    @property
    def trained_tokens(self) -> int:
        return sum(label != IGNORE for label in self.labels)

    @property
    def tokens(self) -> int:
        return len(self.input_ids)


@dataclass(frozen=True)
class Encoded(TokenCounts):
    input_ids: list[int]
    labels: list[int]
    truncated: str = ""  # "" | "turns" (oldest turns dropped) | "prompt" | "answer" (its end cut)
    images: tuple[str, ...] = ()  # absolute paths, in the order of their tokens
    grids: tuple[tuple[int, int, int], ...] = ()  # each image's (t, h, w) in patches


@dataclass(frozen=True)
class Dropped:
    reason: str  # a message key: encode.no_answer_left, encode.bad_tools, encode.bad_function, auto.unsplittable,
    # encode.image_bad, encode.image_cut, encode.media_kind
    detail: str = ""

    def text(self, lang: str = "en") -> str:
        from studio.core.messages import render

        return render(self.reason, lang, detail=self.detail)


class Encoder:
    def __init__(self, template: TemplateLike, tokenizer: Any, options: Options, media: Media | None = None) -> None:
        self.template, self.tokenizer, self.options, self.media = template, tokenizer, options, media
        self.special = {BOS: tokenizer.bos_token_id, EOS: eos_id(template, tokenizer)}
        self._backend: Any = None  # the Rust tokenizer, once it is shown to give the wrapper's ids
        self.keep_head = len(self._ids([list(template.prefix)], {})[0])

    # slots -> ids -----------------------------------------------------------------------------------

    def _ids(self, messages: list[Message], vocab: dict[str, list[int]]) -> list[list[int]]:
        out = []
        for message in messages:
            ids: list[int] = []
            for slot in message:
                if isinstance(slot, Special):
                    tid = self.special[slot]
                    ids += [] if tid is None else [tid]
                elif slot:
                    ids += vocab[slot] if slot in vocab else self._tokenize([slot])[slot]
            out.append(ids)
        return out

    def _tokenize(self, texts: list[str]) -> dict[str, list[int]]:
        unique = list(dict.fromkeys(texts))
        if not unique:
            return {}
        if self._backend is None:
            self._backend = _fast_backend(self.tokenizer, unique[:32])
        if self._backend:
            ids = [e.ids for e in self._backend.encode_batch_fast(unique, add_special_tokens=False)]
        else:
            ids = self.tokenizer(unique, add_special_tokens=False)["input_ids"]
        return dict(zip(unique, ids, strict=True))

    def _messages(self, conv: Conversation, one_turn: bool = False) -> list[Message] | Dropped:
        from studio.templates.auto import Unsplittable

        try:
            if conv.kind == "text":
                return self.template.text_messages(conv)
            return self.template.messages(conv, one_turn) if one_turn else self.template.messages(conv)
        except BadToolText as exc:
            return Dropped(f"encode.bad_{exc}")
        except Unsplittable as exc:
            return Dropped("auto.unsplittable", str(exc))

    # rows -------------------------------------------------------------------------------------------

    def encode_many(self, convs: Sequence[Conversation]) -> list[Encoded | Dropped]:
        out: list[Encoded | Dropped] = []
        if self.options.text_only:
            convs = [c.without_media() for c in convs]
        for start in range(0, len(convs), CHUNK):
            chunk = [self._expand(c) for c in convs[start:start + CHUNK]]
            rendered = [c if isinstance(c, Dropped) else self._messages(c[0]) for c in chunk]
            texts = [s for r in rendered if not isinstance(r, Dropped) for m in r for s in m if isinstance(s, str)]
            vocab = self._tokenize(texts)
            for c, r in zip(chunk, rendered, strict=True):
                out.append(r if isinstance(r, Dropped) else self._encode(c[0], self._ids(r, vocab), *c[1:]))
        return out

    def message_ids(self, convs: Sequence[Conversation]) -> list[list[list[int]] | Dropped]:
        """Each conversation's messages as ids, one list per message, only the last answer judged (no truncation, no
        media expansion): what the preference encoders (studio.encode.pairs) cut and join their own way."""
        out: list[list[list[int]] | Dropped] = []
        for start in range(0, len(convs), CHUNK):
            rendered = [self._messages(c, one_turn=True) for c in convs[start:start + CHUNK]]
            vocab = self._tokenize([s for r in rendered if not isinstance(r, Dropped) for m in r for s in m
                                    if isinstance(s, str)])
            out += [r if isinstance(r, Dropped) else self._ids(r, vocab) for r in rendered]
        return out

    def _expand(self, conv: Conversation) -> tuple[Conversation, tuple[str, ...], tuple] | Dropped:
        """Each <image> replaced by the image's token run (LLaMA-Factory's qwen2_vl plugin), sized from the
        file's header; the row is dropped, with the file and the reason, when an image cannot be used."""
        if self.media is None or not (conv.images or conv.videos or conv.audios):
            return conv, (), ()
        if conv.videos or conv.audios:
            return Dropped("encode.media_kind", "videos" if conv.videos else "audios")
        paths, grids = [], []
        root = self.media.root.resolve()
        for name in conv.images:
            path = (root / name).resolve()
            if root not in path.parents:  # a dataset's paths stay inside its folder, like a browser's
                return Dropped("encode.image_bad", f"{name}: outside the data folder {root}")
            try:
                grids.append(self.media.spec.grid(*image_size(path)))
            except BadImage as exc:
                return Dropped("encode.image_bad", str(exc))
            paths.append(str(path))
        runs = iter([self.media.spec.expansion(g) for g in grids])
        turns = []
        for turn in conv.turns:
            parts = turn.content.split("<image>")
            text = parts[0]
            for part in parts[1:]:
                text += next(runs, "<image>") + part
            turns.append(Turn(turn.role, text))
        if next(runs, None) is not None or any("<image>" in t.content for t in turns):
            return Dropped("encode.image_bad", f"{len(conv.images)} image(s) for a different number of <image> "
                                               "placeholders")
        expanded = Conversation(turns=tuple(turns), system=conv.system, tools=conv.tools, kind=conv.kind)
        return expanded, tuple(paths), tuple(grids)

    def encode(self, conv: Conversation) -> Encoded | Dropped:
        return self.encode_many([conv])[0]

    def prompt_ids(self, conv: Conversation) -> list[int]:
        """A conversation ending with a user turn, written up to the assistant header: what generation continues."""
        expanded = self._expand(conv)
        rendered = expanded if isinstance(expanded, Dropped) else self._messages(expanded[0])
        if isinstance(rendered, Dropped):
            raise ValueError(rendered.detail or rendered.reason)
        return [i for ids in self._ids(rendered, {}) for i in ids]

    def _encode(self, conv: Conversation, messages: list[list[int]], images: tuple[str, ...] = (),
                grids: tuple = ()) -> Encoded | Dropped:
        cutoff = self.options.cutoff_len
        truncated = ""
        if images and (total := sum(map(len, messages))) > cutoff:  # an image's tokens are never cut
            return Dropped("encode.image_cut", f"{total} > {cutoff}")
        if sum(map(len, messages)) > cutoff and len(messages) > 2:
            for k in range(2, len(conv.turns), 2):  # drop the oldest pairs, the system prompt stays
                shorter = Conversation(turns=conv.turns[k:], system=conv.system, tools=conv.tools, kind=conv.kind)
                rendered = self._messages(shorter)
                if isinstance(rendered, Dropped):
                    return rendered
                messages, truncated = self._ids(rendered, {}), "turns"
                if sum(map(len, messages)) <= cutoff:
                    break
        pairs = [(messages[i], messages[i + 1]) for i in range(0, len(messages), 2)]
        if sum(map(len, messages)) > cutoff:
            source, target = pairs[-1]
            pairs[-1], cut = self._cut(source, target, cutoff)
            truncated = cut or truncated
        ids: list[int] = []
        labels: list[int] = []
        for n, (source, target) in enumerate(pairs):
            last = n == len(pairs) - 1
            ids += source + target
            labels += source if self.options.train_on_prompt else [IGNORE] * len(source)
            labels += target if last or not self.options.mask_history else [IGNORE] * len(target)
        if all(label == IGNORE for label in labels):
            return Dropped("encode.no_answer_left")
        return Encoded(ids, labels, truncated, images, grids)

    def _cut(self, source: list[int], target: list[int], cutoff: int) -> tuple[tuple[list[int], list[int]], str]:
        keep_source = max(cutoff - len(target), min(len(source), cutoff // 2))
        keep_target = cutoff - keep_source
        head = min(self.keep_head, keep_source)
        source = source[:head] + source[len(source) - (keep_source - head):] if keep_source > head else source[:head]
        cut = "answer" if keep_target < len(target) else "prompt"
        return (source, target[:keep_target]), cut


def _fast_backend(tokenizer: Any, probe: list[str]) -> Any:
    """The fast tokenizer's Rust object when calling it directly gives the same ids as the wrapper, else False.

    Skipping the wrapper's per-row Python (attention masks, type ids) is most of the time saved."""
    backend = getattr(tokenizer, "_tokenizer", None)
    if backend is None or not hasattr(backend, "encode_batch_fast"):
        return False
    direct = [e.ids for e in backend.encode_batch_fast(probe, add_special_tokens=False)]
    return backend if direct == tokenizer(probe, add_special_tokens=False)["input_ids"] else False


# views and batches ----------------------------------------------------------------------------------

def token_rows(enc: Encoded, tokenizer: Any) -> list[tuple[str, int, bool]]:
    """(token text, id, trained?) for every token of a row: the per-token view."""
    tokens = tokenizer.convert_ids_to_tokens(enc.input_ids)
    pieces = [tokenizer.decode([i]) for i in enc.input_ids] if tokens else []
    return [(piece or tok, tid, label != IGNORE)
            for tok, piece, tid, label in zip(tokens, pieces, enc.input_ids, enc.labels, strict=True)]


def spans(enc: Encoded, tokenizer: Any) -> list[tuple[str, bool]]:
    """The row's text as runs of (text, trained?), decoded from the very ids that are trained."""
    out: list[tuple[str, bool]] = []
    start = 0
    for i in range(1, len(enc.input_ids) + 1):
        if i == len(enc.input_ids) or (enc.labels[i] != IGNORE) != (enc.labels[start] != IGNORE):
            out.append((tokenizer.decode(enc.input_ids[start:i]), enc.labels[start] != IGNORE))
            start = i
    return out


def pad_batch(rows: Sequence[dict[str, Any]], pad_id: int) -> dict[str, list[list[int]]]:
    """Pad to the longest row of this batch (not to the cutoff): fewer wasted tokens.

    Packed rows carry position_ids and get no attention mask: positions restarting at 0 are what keeps
    the examples in a row from attending to each other."""
    width = max(len(r["input_ids"]) for r in rows)
    packed = "position_ids" in rows[0]
    batch: dict[str, list[list[int]]] = {"input_ids": [], "labels": [], "position_ids" if packed else "attention_mask": []}
    for r in rows:
        n = len(r["input_ids"])
        gap = width - n
        batch["input_ids"].append(list(r["input_ids"]) + [pad_id] * gap)
        batch["labels"].append(list(r["labels"]) + [IGNORE] * gap)
        if packed:
            batch["position_ids"].append(list(r["position_ids"]) + list(range(gap)))
        else:
            batch["attention_mask"].append([1] * n + [0] * gap)
    return batch
