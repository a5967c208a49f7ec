"""After training: each training row's loss under the final weights, the worst written out (how bad data shows)."""

from __future__ import annotations

import json
import random
from pathlib import Path
from typing import Any

from studio.core.rundir import WORST_FILE
from studio.encode.encoder import IGNORE, pad_batch

MAX_ROWS = 20_000  # beyond this a seeded sample is ranked: the ranking should cost a fraction of the run
TEXT_CHARS = 1200


def row_losses(model: Any, rows: list[dict[str, Any]], pad_id: int, batch_size: int = 8,
               images: Any = None) -> list[float]:
    """Mean cross-entropy over each row's trained tokens, rows batched by similar length to spare padding;
    `images` (the collator's image step) adds a vision model's image inputs."""
    import torch
    import torch.nn.functional as F

    from studio.train.loss import causal_head, head_set_aside, token_losses

    device = next(model.parameters()).device
    parts = causal_head(model)
    order = sorted(range(len(rows)), key=lambda i: len(rows[i]["input_ids"]))
    losses = [0.0] * len(rows)
    was_training = model.training
    model.eval()
    with torch.no_grad():
        for start in range(0, len(order), batch_size):
            chunk = order[start:start + batch_size]
            picked = [rows[i] for i in chunk]
            batch = {k: torch.tensor(v, device=device) for k, v in pad_batch(picked, pad_id).items()}
            if images is not None:
                batch |= {k: v.to(device) for k, v in images(picked, batch["input_ids"]).items()}
            labels = batch.pop("labels")
            if parts is not None:  # logits at answer positions only, a chunk at a time
                with head_set_aside(parts[0]):
                    hidden = model(**batch, use_cache=False).logits
                values, owner = token_losses(hidden, parts[1], labels)
                sums = torch.zeros(len(chunk), device=device).index_add_(0, owner, values)
            else:
                logits = model(**batch, use_cache=False).logits[:, :-1].float()
                sums = F.cross_entropy(logits.transpose(1, 2), labels[:, 1:], ignore_index=IGNORE,
                                       reduction="none").sum(dim=1)
            counts = (labels[:, 1:] != IGNORE).sum(dim=1).clamp(min=1)
            for i, value in zip(chunk, (sums / counts).tolist(), strict=True):
                losses[i] = value
    model.train(was_training)
    return losses


def rank(model: Any, tokenizer: Any, rows: Any, count: int, seed: int, batch_size: int = 8,
         images: Any = None) -> list[dict[str, Any]]:
    """The `count` rows with the highest loss, worst first, with where they come from and their text."""
    indices = list(range(len(rows)))
    if len(indices) > MAX_ROWS:
        indices = sorted(random.Random(seed).sample(indices, MAX_ROWS))
    picked = rows.select(indices).to_list() if hasattr(rows, "select") else [rows[i] for i in indices]
    losses = row_losses(model, picked, tokenizer.pad_token_id, batch_size, images)
    worst = sorted(range(len(picked)), key=lambda i: -losses[i])[:count]
    out = []
    for place, i in enumerate(worst, 1):
        ids, labels = picked[i]["input_ids"], picked[i]["labels"]
        answer = [t for t, lab in zip(ids, labels, strict=True) if lab != IGNORE]
        out.append({"rank": place, "source": picked[i].get("source", ""), "loss": round(losses[i], 4),
                    "tokens": len(ids), "ranked_of": len(picked),
                    "text": _shown(tokenizer.decode(ids))[:TEXT_CHARS], "answer": tokenizer.decode(answer)[:TEXT_CHARS],
                    "images": list(picked[i].get("images") or [])})
    return out


def _shown(text: str) -> str:
    """An image's run of pad tokens as one mark with its count, as the learn view shows it."""
    import re

    from studio.model.vision import IMAGE_PAD

    return re.sub(f"(?:{re.escape(IMAGE_PAD)})+", lambda m: f"[image ×{len(m.group()) // len(IMAGE_PAD)}]", text)


def write(run_dir: Path, ranked: list[dict[str, Any]]) -> None:
    tmp = run_dir / f".{WORST_FILE}.tmp"
    tmp.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in ranked), encoding="utf-8")
    tmp.replace(run_dir / WORST_FILE)


def read(run_dir: Path) -> list[dict[str, Any]]:
    path = run_dir / WORST_FILE
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
