"""The training loss computed only where it is learned: logits for answer tokens alone, a vocabulary chunk at a time.

A causal LM's own loss projects every position of the batch onto the whole vocabulary and upcasts it to fp32:
batch 8 x 512 tokens x Qwen2.5's 151,936 entries is 2.4 GiB of logits, the same again for their gradient, while
only the answer tokens (labels != -100) count. Here the model runs with its output layer set aside, the hidden
states at the answer positions are gathered, and a fused step computes the cross-entropy sum and its gradient
chunk by chunk (Liger's and Unsloth's idea): peak memory is one chunk of logits, prompt positions cost no output
projection at all, and nothing is recomputed in backward. The value equals the model's own loss (sum over answer
tokens / their count, or / the accumulated batch's count the Trainer passes)."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import Any

from studio.encode.encoder import IGNORE
from studio.model.memory import ANSWER_LOSS_TYPES, LOGIT_CHUNK_ELEMENTS

# logits per chunk (128 MiB in fp32): a 151,936 vocabulary is done 220 rows at a time
CHUNK_ELEMENTS = LOGIT_CHUNK_ELEMENTS


def causal_head(model: Any) -> tuple[Any, Any] | None:
    """(the causal LM module, its plain output Linear) when the answer-only loss computes exactly what its forward
    would (studio.model.memory.ANSWER_LOSS_TYPES); None otherwise: another model type, a head with a bias or an
    adapter, a DataParallel wrapper."""
    import torch

    inner = model.get_base_model() if hasattr(model, "get_base_model") else model
    head = getattr(inner, "lm_head", None)
    if type(head) is not torch.nn.Linear or head.bias is not None:
        return None
    if getattr(getattr(inner, "config", None), "model_type", "") not in ANSWER_LOSS_TYPES:
        return None
    return inner, head


@contextlib.contextmanager
def head_set_aside(inner: Any) -> Iterator[None]:
    """The model's forward returns its last hidden states in place of logits (no labels are passed: no loss)."""
    import torch

    head = inner.lm_head
    inner.lm_head = torch.nn.Identity()
    try:
        yield
    finally:
        inner.lm_head = head


def _fused() -> Any:
    import torch

    class FusedLinearCrossEntropy(torch.autograd.Function):
        """sum over rows of CE(h @ W.T, target), its gradient made in the same pass (no logits kept for backward)."""

        @staticmethod
        def forward(ctx: Any, h: Any, weight: Any, target: Any) -> Any:
            need_h, need_w = ctx.needs_input_grad[0], ctx.needs_input_grad[1]
            grad_h = torch.zeros_like(h) if need_h else None
            grad_w = torch.zeros(weight.shape, dtype=torch.float32, device=weight.device) if need_w else None
            total = torch.zeros((), dtype=torch.float32, device=h.device)
            step = max(1, CHUNK_ELEMENTS // weight.shape[0])
            for start in range(0, h.shape[0], step):
                hc, tc = h[start:start + step], target[start:start + step]
                logits = (hc @ weight.t()).float()
                lse = torch.logsumexp(logits, dim=-1)
                total += (lse - logits.gather(1, tc[:, None]).squeeze(1)).sum()
                if need_h or need_w:
                    probs = torch.exp(logits.sub_(lse[:, None]))  # softmax, in the logits' memory
                    probs[torch.arange(len(tc), device=tc.device), tc] -= 1.0
                    probs = probs.to(h.dtype)
                    if need_h:
                        grad_h[start:start + step] = probs @ weight
                    if need_w:
                        grad_w.addmm_(probs.t().float(), hc.float())
            ctx.save_for_backward(*(g for g in (grad_h, grad_w) if g is not None))
            ctx.has, ctx.weight_dtype = (need_h, need_w), weight.dtype
            return total

        @staticmethod
        def backward(ctx: Any, grad_out: Any) -> tuple[Any, ...]:
            saved = list(ctx.saved_tensors)
            grad_h = saved.pop(0) * grad_out if ctx.has[0] else None  # a 0-dim factor keeps the tensor's dtype
            grad_w = (saved.pop(0) * grad_out).to(ctx.weight_dtype) if ctx.has[1] else None
            return grad_h, grad_w, None

    return FusedLinearCrossEntropy


def answer_loss(hidden: Any, head: Any, labels: Any, num_items: Any = None) -> Any:
    """The causal LM loss from last hidden states: each position predicts the next token; positions whose next label
    is IGNORE are skipped before the projection. Divided by `num_items` (the Trainer's count over an accumulated
    batch) or else by this batch's answer tokens, as the model's own loss is."""
    import torch

    target = labels[:, 1:]
    keep = target != IGNORE
    count = num_items if num_items is not None else keep.sum()
    if not torch.is_grad_enabled():  # evaluation: the value alone, no gradient made in the forward
        return token_losses(hidden, head, labels)[0].sum() / count
    # the head's dtype: under mixed precision the wrapped forward hands back fp32 hidden states beside a 16-bit head
    picked = hidden[:, :-1][keep].to(head.weight.dtype)
    return _fused().apply(picked, head.weight, target[keep]) / count


def token_losses(hidden: Any, head: Any, labels: Any) -> tuple[Any, Any]:
    """Without gradients: (each answer token's loss, the batch row it belongs to), a chunk of logits at a time."""
    import torch

    target = labels[:, 1:]
    keep = target != IGNORE
    rows = torch.nonzero(keep)[:, 0]
    picked, wanted = hidden[:, :-1][keep].to(head.weight.dtype), target[keep]
    step = max(1, CHUNK_ELEMENTS // head.weight.shape[0])
    parts = []
    for start in range(0, len(wanted), step):
        logits = head(picked[start:start + step]).float()
        parts.append(torch.nn.functional.cross_entropy(logits, wanted[start:start + step], reduction="none"))
    return (torch.cat(parts) if parts else torch.zeros(0, device=hidden.device)), rows
