"""Preference rows -> token ids, as LLaMA-Factory's pairwise and feedback (KTO) processors make them.

A pair is the prompt (every message before the judged answer, joined) followed by each answer; labels mask the
prompt. When prompt + the longer answer exceed cutoff_len, both are cut by LLaMA-Factory's rule (`infer_seqlen`):
the answer side is kept whole when it fits in half the budget, else the prompt when it does, else the budget is
shared in proportion; the prompt loses its end, the answers theirs. KTO rows are one answer each (good or bad) plus
a "KL" row: the same prompt with the previous row's answer (the first row takes the last one), inside blocks of
KL_BLOCK rows, as LLaMA-Factory's batched preprocessing pairs them.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from studio.data.preference import Preference
from studio.encode.encoder import IGNORE, Dropped, Encoder, TokenCounts

KL_BLOCK = 1000  # LLaMA-Factory's preprocessing batch: the KL answer shift wraps around inside each block


def infer_seqlen(source_len: int, target_len: int, cutoff_len: int) -> tuple[int, int]:
    """(prompt length, answer length) after truncation, by LLaMA-Factory's rule."""
    if target_len * 2 < cutoff_len:
        max_target = cutoff_len
    elif source_len * 2 < cutoff_len:
        max_target = cutoff_len - source_len
    else:
        max_target = int(cutoff_len * (target_len / (source_len + target_len)))
    target = min(max_target, target_len)
    return min(max(cutoff_len - target, 0), source_len), target


@dataclass(frozen=True)
class EncodedPair:
    chosen_input_ids: list[int]
    chosen_labels: list[int]
    rejected_input_ids: list[int]
    rejected_labels: list[int]
    truncated: str = ""  # "" | "prompt" | "answer"

    @property
    def trained_tokens(self) -> int:
        return sum(label != IGNORE for label in self.chosen_labels + self.rejected_labels)

    @property
    def tokens(self) -> int:
        return len(self.chosen_input_ids) + len(self.rejected_input_ids)


@dataclass(frozen=True)
class EncodedFeedback(TokenCounts):
    input_ids: list[int]
    labels: list[int]
    kl_input_ids: list[int]
    kl_labels: list[int]
    kto_tag: bool
    truncated: str = ""


def _join(prompt: list[int], answers: Sequence[list[int]], cutoff: int) -> tuple[list[tuple[list[int], list[int]]],
                                                                                  str]:
    source, target = infer_seqlen(len(prompt), max(map(len, answers)), cutoff)
    cut = "answer" if any(len(a) > target for a in answers) else "prompt" if source < len(prompt) else ""
    head = prompt[:source]
    return [(head + a[:target], [IGNORE] * source + a[:target]) for a in answers], cut


def _sides(encoder: Encoder, convs: list) -> list[tuple[list[int], list[int]] | Dropped]:
    """(prompt ids, answer ids) of each conversation: the last message is the answer."""
    out: list[tuple[list[int], list[int]] | Dropped] = []
    for ids in encoder.message_ids(convs):
        out.append(ids if isinstance(ids, Dropped) else ([i for m in ids[:-1] for i in m], ids[-1]))
    return out


def _media_refused(item: Preference, encoder: Encoder) -> Dropped | None:
    conv = item.prompt
    if (conv.images or conv.videos or conv.audios) and not encoder.options.text_only:
        return Dropped("pref.media", "images" if conv.images else "videos" if conv.videos else "audios")  # column names
    return None


def _plain(item: Preference, encoder: Encoder) -> Preference:
    return Preference(item.prompt.without_media(), item.chosen, item.rejected, item.kto) \
        if encoder.options.text_only else item


def encode_pairs(encoder: Encoder, items: Sequence[Preference]) -> list[EncodedPair | Dropped]:
    cutoff = encoder.options.cutoff_len
    items = [_plain(i, encoder) for i in items]
    sides = _sides(encoder, [i.side(s) for i in items for s in ("chosen", "rejected")])
    out: list[EncodedPair | Dropped] = []
    for n, item in enumerate(items):
        chosen, rejected = sides[2 * n], sides[2 * n + 1]
        refused = _media_refused(item, encoder) or next((s for s in (chosen, rejected) if isinstance(s, Dropped)),
                                                        None)
        if refused is not None:
            out.append(refused)
            continue
        assert not isinstance(chosen, Dropped) and not isinstance(rejected, Dropped)
        ((c_ids, c_labels), (r_ids, r_labels)), cut = _join(chosen[0], [chosen[1], rejected[1]], cutoff)
        if all(label == IGNORE for label in c_labels) or all(label == IGNORE for label in r_labels):
            out.append(Dropped("encode.no_answer_left"))
            continue
        out.append(EncodedPair(c_ids, c_labels, r_ids, r_labels, cut))
    return out


def encode_feedback(encoder: Encoder, items: Sequence[Preference]) -> list[EncodedFeedback | Dropped]:
    cutoff = encoder.options.cutoff_len
    items = [_plain(i, encoder) for i in items]
    answers = [i.chosen or i.rejected for i in items]
    kl = [answers[(n - 1) if n % KL_BLOCK else min(n + KL_BLOCK, len(items)) - 1] for n in range(len(items))]
    convs = [i.side("chosen" if i.desirable else "rejected") for i in items]
    kl_convs = [type(i)(i.prompt, a, "", True).side("chosen") for i, a in zip(items, kl, strict=True)]
    sides, kl_sides = _sides(encoder, convs), _sides(encoder, kl_convs)
    out: list[EncodedFeedback | Dropped] = []
    for item, side, kl_side in zip(items, sides, kl_sides, strict=True):
        refused = _media_refused(item, encoder) or next((s for s in (side, kl_side) if isinstance(s, Dropped)), None)
        if refused is not None:
            out.append(refused)
            continue
        assert not isinstance(side, Dropped) and not isinstance(kl_side, Dropped)
        ((ids, labels),), cut = _join(side[0], [side[1]], cutoff)
        ((kl_ids, kl_labels),), _ = _join(kl_side[0], [kl_side[1]], cutoff)
        if all(label == IGNORE for label in labels):
            out.append(Dropped("encode.no_answer_left"))
            continue
        out.append(EncodedFeedback(ids, labels, kl_ids, kl_labels, item.desirable, cut))
    return out


def encode_rows(encoder: Encoder, items: Sequence[Preference], kto: bool) -> list[Any]:
    """Pairs (dpo), or answers with their KL rows (kto), as that stage trains them."""
    return list(encode_feedback(encoder, items) if kto else encode_pairs(encoder, items))


def row_length(row: EncodedPair | EncodedFeedback) -> int:
    """What cutoff_len must hold for a row: a pair's longer sequence (prompt + its longer answer), a KTO answer's."""
    return max(len(row.chosen_input_ids), len(row.rejected_input_ids)) if isinstance(row, EncodedPair) \
        else len(row.input_ids)
