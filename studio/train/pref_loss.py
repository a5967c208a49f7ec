"""Preference losses on sequence log-probabilities, with LLaMA-Factory's numbers (its DPO trainer and TRL's losses).

DPO family, `logits = (policy chosen - policy rejected) - (reference chosen - reference rejected)`:
sigmoid (DPO) -log σ(β·logits); hinge relu(1 - β·logits); ipo (logits - 1/(2β))², on per-token average
log-probabilities. Rewards are β·(policy - reference). Without a reference model, on average log-probabilities:
ORPO -log p(chosen) + β·(-log σ(log odds ratio)); SimPO -log σ(β·(chosen - rejected) - γ); rewards β·policy.
`pref_ftx` adds that weight times the chosen answer's average negative log-likelihood.
KTO: KL = mean(policy - reference) over the mismatched (KL) rows, clamped at 0 and without gradient; a good answer
loses 1 - σ(β·(ratio - KL)), a bad one 1 - σ(β·(KL - ratio)), weighted by kto_chosen_weight / kto_rejected_weight.

Sequence log-probabilities are computed from the last hidden states at answer positions only, the output layer a
chunk of rows at a time, recomputed in backward: no batch-wide logits are ever held (the SFT loss's idea)."""

from __future__ import annotations

from typing import Any

from studio.encode.encoder import IGNORE
from studio.model.memory import LOGIT_CHUNK_ELEMENTS

AVERAGED = ("ipo", "orpo", "simpo")  # losses on per-token average log-probabilities
NO_REFERENCE = ("orpo", "simpo")


def _token_logps() -> Any:
    import torch

    class TokenLogps(torch.autograd.Function):
        """log p(target) of each row of h @ W.T, a chunk of rows at a time; backward recomputes each chunk's logits."""

        @staticmethod
        def forward(ctx: Any, h: Any, weight: Any, target: Any) -> Any:
            out = torch.empty(h.shape[0], dtype=torch.float32, device=h.device)
            step = max(1, LOGIT_CHUNK_ELEMENTS // weight.shape[0])
            for start in range(0, h.shape[0], step):
                logits = (h[start:start + step] @ weight.t()).float()
                picked = logits.gather(1, target[start:start + step, None]).squeeze(1)
                out[start:start + step] = picked - torch.logsumexp(logits, dim=-1)
            ctx.save_for_backward(h, weight, target)
            return out

        @staticmethod
        def backward(ctx: Any, grad: Any) -> tuple[Any, ...]:
            h, weight, target = ctx.saved_tensors
            need_h, need_w = ctx.needs_input_grad[0], ctx.needs_input_grad[1]
            grad_h = torch.zeros_like(h) if need_h else None
            grad_w = torch.zeros(weight.shape, dtype=torch.float32, device=weight.device) if need_w else None
            step = max(1, LOGIT_CHUNK_ELEMENTS // weight.shape[0])
            for start in range(0, h.shape[0], step):
                hc, tc, gc = h[start:start + step], target[start:start + step], grad[start:start + step]
                d = torch.softmax((hc @ weight.t()).float(), dim=-1).mul_(-gc[:, None])  # d logp / d logits = onehot - p
                d[torch.arange(len(tc), device=tc.device), tc] += gc
                d = d.to(h.dtype)
                if need_h:
                    grad_h[start:start + step] = d @ weight
                if need_w:
                    grad_w.addmm_(d.t().float(), hc.float())
            return grad_h, grad_w.to(weight.dtype) if need_w else None, None

    return TokenLogps


def sequence_logps(model: Any, batch: dict[str, Any], fast: bool = True) -> tuple[Any, Any]:
    """(sum of log p over each row's answer tokens, their count) for a batch with input_ids, attention_mask, labels.

    LLaMA-Factory's get_batch_logps, computed from hidden states where the model allows it
    (studio.train.loss.causal_head), else from the model's own logits."""
    import torch

    from studio.train.loss import causal_head, head_set_aside

    labels = batch["labels"]
    target = labels[:, 1:]
    keep = target != IGNORE
    inputs = {k: v for k, v in batch.items() if k != "labels"}
    parts = causal_head(model) if fast and not isinstance(model, torch.nn.DataParallel) else None
    if parts is None:
        logits = model(**inputs, use_cache=False).logits[:, :-1].float()
        picked = torch.log_softmax(logits, dim=-1).gather(2, target.clamp(min=0)[..., None]).squeeze(2)
        return (picked * keep).sum(dim=1), keep.sum(dim=1)
    inner, head = parts
    with head_set_aside(inner):
        hidden = model(**inputs, use_cache=False).logits
    rows = torch.nonzero(keep)[:, 0]
    values = _token_logps().apply(hidden[:, :-1][keep].to(head.weight.dtype), head.weight, target[keep])
    sums = torch.zeros(labels.shape[0], dtype=torch.float32, device=labels.device).index_add(0, rows, values)
    return sums, keep.sum(dim=1)


def pair_losses(cfg: Any, chosen: Any, rejected: Any, ref_chosen: Any, ref_rejected: Any, chosen_avg: Any
                ) -> tuple[Any, Any, Any]:
    """(loss per pair, chosen reward, rejected reward). Inputs are averages for AVERAGED losses, sums otherwise;
    `chosen_avg` is always the chosen side's per-token average (the SFT mix)."""
    import torch.nn.functional as F

    beta, kind = cfg.pref_beta, cfg.pref_loss
    if kind in NO_REFERENCE:
        if kind == "orpo":
            log_odds = (chosen - rejected) - (torch_log1mexp(chosen) - torch_log1mexp(rejected))
            losses = -chosen + beta * -F.logsigmoid(log_odds)
        else:
            losses = -F.logsigmoid(beta * ((chosen - rejected) - cfg.simpo_gamma / beta))
        good, bad = beta * chosen.detach(), beta * rejected.detach()
    else:
        logits = (chosen - rejected) - (ref_chosen - ref_rejected)
        if kind == "sigmoid":
            losses = -F.logsigmoid(beta * logits)
        elif kind == "hinge":
            losses = (1 - beta * logits).clamp(min=0)
        else:  # ipo
            losses = (logits - 1 / (2 * beta)) ** 2
        good, bad = beta * (chosen - ref_chosen).detach(), beta * (rejected - ref_rejected).detach()
    if cfg.pref_ftx > 1e-6:
        losses = losses + cfg.pref_ftx * -chosen_avg
    return losses, good, bad


def torch_log1mexp(x: Any) -> Any:
    """log(1 - exp(x)) for log-probabilities x < 0, as LLaMA-Factory writes it."""
    import torch

    return torch.log1p(-torch.exp(x))


def kto_loss(cfg: Any, logps: Any, counts: Any, ref_logps: Any, kl_logps: Any, ref_kl_logps: Any, tags: Any
             ) -> tuple[Any, Any, Any]:
    """(the batch's loss, reward per row, the KL estimate) of a KTO batch of sum log-probabilities; `tags` marks
    the good rows. The SFT mix is LLaMA-Factory's: the good rows' mean per-token NLL x batch / good rows."""
    import torch

    kl = (kl_logps - ref_kl_logps).mean().detach().clamp(min=0)
    ratio = logps - ref_logps
    good = 1 - torch.sigmoid(cfg.pref_beta * (ratio - kl))
    bad = 1 - torch.sigmoid(cfg.pref_beta * (kl - ratio))
    loss = torch.where(tags, cfg.kto_chosen_weight * good, cfg.kto_rejected_weight * bad).mean()
    if cfg.pref_ftx > 1e-6 and tags.any():
        loss = loss + cfg.pref_ftx * (-(logps / counts.clamp(min=1))[tags]).mean() / tags.sum() * len(tags)
    return loss, cfg.pref_beta * ratio.detach(), kl
