"""Reference DPO/ORPO/SimPO/KTO losses, rewards and logged metrics from LLaMA-Factory itself.

Runs LLaMA-Factory's own code (trainer_utils.get_batch_logps, CustomDPOTrainer and CustomKTOTrainer, which
call trl's dpo_loss / kto_loss) on fixed inputs. The trainers are built with __new__ and only the attributes
their __init__ would set (copied from a real FinetuningArguments); the model forward is either bypassed
(fixed log-probs) or replaced by a tiny table "model" (logits[b, t] = table[input_ids[b, t]]).

Run with a Python that has llamafactory 0.9.x (and trl <= 0.24) installed:
    /path/to/lf-venv/bin/python bench/lf_golden_pref_loss.py tests/fixtures/lf_golden_pref_loss.json
"""

import json
import sys
from pathlib import Path
from types import SimpleNamespace

import torch
import transformers
from accelerate import Accelerator
from llamafactory.hparams import FinetuningArguments
from llamafactory.train.dpo.trainer import CustomDPOTrainer
from llamafactory.train.kto.trainer import CustomKTOTrainer
from llamafactory.train.trainer_utils import get_batch_logps

IGNORE = -100
VOCAB = 11
ACC = Accelerator(cpu=True)
ARGS = SimpleNamespace(device=torch.device("cpu"))


def L(t: torch.Tensor) -> list:
    return t.detach().to(torch.float64).tolist()


class TableLM:
    """A stand-in causal LM: logits[b, t, :] = table[input_ids[b, t], :] (fp32)."""

    def __init__(self, table: torch.Tensor) -> None:
        self.table = table

    def __call__(self, input_ids, attention_mask=None, **kwargs):
        return SimpleNamespace(logits=self.table[input_ids])


def capture_log(trainer, logs: dict) -> dict:
    """Run the trainer's own log() (metric averaging) with transformers' Trainer.log replaced by a catcher."""
    caught = {}
    orig = transformers.Trainer.log
    transformers.Trainer.log = lambda self, lg, *a, **k: caught.update(lg)
    try:
        trainer.log(dict(logs))
    finally:
        transformers.Trainer.log = orig
    return caught


# ---------------------------------------------------------------- get_batch_logps
def batch_logps_case() -> dict:
    torch.manual_seed(0)
    logits = torch.randn(4, 7, VOCAB, dtype=torch.float32)
    labels = torch.tensor([[IGNORE, IGNORE, 3, 5, 1, 7, 2],
                           [IGNORE, 4, 9, IGNORE, IGNORE, IGNORE, IGNORE],
                           [IGNORE, IGNORE, IGNORE, IGNORE, IGNORE, 10, 0],
                           [IGNORE, IGNORE, IGNORE, IGNORE, IGNORE, IGNORE, 6]])
    logps, valid = get_batch_logps(logits=logits, labels=labels)
    # ld_alpha (LD-DPO) variant: rows 0-1 are "chosen", rows 2-3 "rejected"
    ld_logps, ld_valid = get_batch_logps(logits=logits, labels=labels, ld_alpha=0.5)
    return {"note": "labels are NOT pre-shifted: get_batch_logps drops labels[:, 0] and logits[:, -1]",
            "seed": 0, "shape": list(logits.shape), "logits": L(logits), "labels": labels.tolist(),
            "logps_sum": L(logps), "valid_length": valid.tolist(),
            "ld_alpha": 0.5, "ld_logps_sum": L(ld_logps), "ld_valid_length": ld_valid.tolist()}


def bare_trainer(cls, fa: FinetuningArguments, ref_model=None):
    """A trainer object without Trainer.__init__: the attributes both preference trainers' __init__ set first."""
    from collections import defaultdict

    tr = cls.__new__(cls)
    tr.finetuning_args = fa
    tr.reference_free = False
    tr.label_pad_token_id = IGNORE
    tr.padding_value = 0
    tr.is_encoder_decoder = False
    tr.precompute_ref_log_probs = False
    tr._peft_has_been_casted_to_bf16 = False
    tr.ref_model = ref_model
    tr._stored_metrics = defaultdict(lambda: defaultdict(list))
    tr.beta = fa.pref_beta
    tr.ftx_gamma = fa.pref_ftx
    tr.accelerator = ACC
    tr.args = ARGS
    return tr


# ---------------------------------------------------------------- DPO family
def dpo_trainer(loss: str, beta: float, ftx: float, ref_model=None) -> CustomDPOTrainer:
    fa = FinetuningArguments(stage="dpo", pref_loss=loss, pref_beta=beta, pref_ftx=ftx, simpo_gamma=0.5,
                             dpo_label_smoothing=0.0)
    tr = bare_trainer(CustomDPOTrainer, fa, ref_model)
    tr.f_divergence_type = "reverse_kl"
    tr.loss_type = fa.pref_loss
    tr.bco_gemma = fa.pref_bco_weight
    tr.label_smoothing = fa.dpo_label_smoothing
    tr.simpo_gamma = fa.simpo_gamma
    tr.ld_alpha = fa.ld_alpha
    return tr


def capture_pref(tr) -> list:
    """Wrap compute_preference_loss to keep the per-row losses tensor; LF adds ftx to it in place (+=)."""
    box = []
    orig = tr.compute_preference_loss

    def wrapped(*a, **k):
        out = orig(*a, **k)
        box.append(out)
        return out

    tr.compute_preference_loss = wrapped
    return box


# sums of token log-probs and response lengths (4 pairs); ref models see the same tokens
DPO_FIXED = {
    "policy_chosen_sum": [-12.0, -30.0, -0.3, -50.0],
    "policy_rejected_sum": [-20.0, -18.0, -9.0, -45.0],
    "reference_chosen_sum": [-13.0, -28.0, -0.45, -52.0],
    "reference_rejected_sum": [-19.0, -19.5, -8.0, -44.0],
    "chosen_length": [10, 12, 3, 25],
    "rejected_length": [8, 12, 30, 20],
}


def dpo_fixed(loss: str, beta: float, ftx: float) -> dict:
    f = {k: torch.tensor(v, dtype=torch.float32) for k, v in DPO_FIXED.items()}
    avg = loss in ("ipo", "orpo", "simpo")  # as in CustomDPOTrainer.concatenated_forward
    pc = f["policy_chosen_sum"] / f["chosen_length"] if avg else f["policy_chosen_sum"]
    pr = f["policy_rejected_sum"] / f["rejected_length"] if avg else f["policy_rejected_sum"]
    rc = f["reference_chosen_sum"] / f["chosen_length"] if avg else f["reference_chosen_sum"]
    rr = f["reference_rejected_sum"] / f["rejected_length"] if avg else f["reference_rejected_sum"]
    pc_avg = pc if avg else pc / f["chosen_length"]
    tr = dpo_trainer(loss, beta, ftx)
    use_ref = tr.finetuning_args.use_ref_model
    zero_logits = torch.zeros(4, 2, VOCAB)
    tr.concatenated_forward = lambda model, batch, is_ref_model=False: {
        "chosen_logps": pc.clone(), "rejected_logps": pr.clone(), "chosen_logits": zero_logits,
        "rejected_logits": zero_logits, "chosen_logps_avg": pc_avg.clone()}
    tr.compute_reference_log_probs = lambda model, batch: (rc.clone(), rr.clone()) if use_ref else (None, None)
    box = capture_pref(tr)
    loss_mean = tr.compute_loss(None, {"input_ids": torch.zeros(8, 2, dtype=torch.long)})
    per_row, chosen_rewards, rejected_rewards = box[0]
    logged = capture_log(tr, {"loss": loss_mean.item()})
    rec = {"pref_loss": loss, "beta": beta, "pref_ftx": ftx, "simpo_gamma": 0.5, "label_smoothing": 0.0,
           "use_ref_model": use_ref, "inputs_are": "per-token averages (sum/length)" if avg else "sums",
           "policy_chosen_logps": L(pc), "policy_rejected_logps": L(pr),
           "reference_chosen_logps": L(rc) if use_ref else None, "reference_rejected_logps": L(rr) if use_ref else None,
           "policy_chosen_logps_avg": L(pc_avg), "sft_loss": L(-pc_avg),
           "losses": L(per_row), "loss": loss_mean.item(),
           "chosen_rewards": L(chosen_rewards), "rejected_rewards": L(rejected_rewards),
           "logged": {k: v for k, v in logged.items() if not k.startswith("logits/")}}
    if loss in ("hinge", "ipo"):
        # LF 0.9.5 calls trl's dpo_loss WITHOUT loss_type, so trl 0.24 falls back to "sigmoid".
        # For comparison only: what trl would give if loss_type were passed.
        alt, _, _ = tr.dpo_loss(pc, pr, rc, rr, loss_type=loss)
        rec["NOT_LF_trl_dpo_loss_with_loss_type_passed"] = L(alt)
    return rec


def make_pairs():
    """Two preference pairs, right-padded like PairwiseDataCollatorWithPadding (chosen rows first)."""
    pad = 0
    chosen = [([1, 2, 3, 4, 5, 6], [IGNORE, IGNORE, IGNORE, 4, 5, 6]),
              ([7, 8, 9, 10, 2], [IGNORE, IGNORE, 9, 10, 2])]
    rejected = [([1, 2, 3, 7, 7, 8, 9, 2], [IGNORE, IGNORE, IGNORE, 7, 7, 8, 9, 2]),
                ([7, 8, 3], [IGNORE, IGNORE, 3])]
    rows = chosen + rejected
    T = max(len(i) for i, _ in rows)
    ids = torch.tensor([i + [pad] * (T - len(i)) for i, _ in rows])
    lab = torch.tensor([lb + [IGNORE] * (T - len(lb)) for _, lb in rows])
    att = torch.tensor([[1] * len(i) + [0] * (T - len(i)) for i, _ in rows])
    return ids, att, lab


def tables():
    g = torch.Generator().manual_seed(1)
    policy = torch.randn(VOCAB, VOCAB, generator=g, dtype=torch.float32)
    ref = policy + 0.3 * torch.randn(VOCAB, VOCAB, generator=g, dtype=torch.float32)
    return policy, ref


def dpo_e2e(loss: str, beta: float, ftx: float) -> dict:
    policy, ref = tables()
    ids, att, lab = make_pairs()
    tr = dpo_trainer(loss, beta, ftx, ref_model=TableLM(ref))
    box = capture_pref(tr)
    batch = {"input_ids": ids.clone(), "attention_mask": att.clone(), "labels": lab.clone()}
    loss_mean, metrics = tr.get_batch_loss_metrics(TableLM(policy), batch)
    per_row, cr, rr = box[0]
    return {"pref_loss": loss, "beta": beta, "pref_ftx": ftx, "simpo_gamma": 0.5,
            "use_ref_model": tr.finetuning_args.use_ref_model,
            "losses": L(per_row), "loss": loss_mean.item(), "chosen_rewards": L(cr), "rejected_rewards": L(rr),
            "metrics": metrics}


# ---------------------------------------------------------------- KTO
def kto_trainer(beta: float, ftx: float, ref_model=None) -> CustomKTOTrainer:
    fa = FinetuningArguments(stage="kto", pref_beta=beta, pref_ftx=ftx, kto_chosen_weight=1.0,
                             kto_rejected_weight=1.0)
    tr = bare_trainer(CustomKTOTrainer, fa, ref_model)
    tr.desirable_weight = fa.kto_chosen_weight
    tr.undesirable_weight = fa.kto_rejected_weight
    tr.calculate_KL = True
    tr.loss_type = "kto"
    return tr


KTO_TAGS = [True, False, True, False, False, True]
KTO_FIXED = {  # sums of token log-probs over each row's response; KL rows are the mismatched pairs
    "policy_logps": [-10.0, -25.0, -3.0, -40.0, -12.0, -7.5],
    "reference_logps": [-11.5, -23.0, -3.2, -41.0, -11.0, -8.0],
    "length": [8, 20, 4, 30, 9, 5],
}
KL_SCENARIOS = {
    "kl_positive": {"policy_kl_logps": [-20.0, -15.0, -30.0, -9.0, -14.0, -22.0],
                    "reference_kl_logps": [-21.0, -15.5, -31.0, -9.5, -13.0, -23.0]},
    "kl_negative_clamped": {"policy_kl_logps": [-20.0, -15.0, -30.0, -9.0, -14.0, -22.0],
                            "reference_kl_logps": [-19.0, -14.0, -29.5, -9.0, -13.5, -21.0]},
}


def kto_fixed(scenario: str, beta: float, ftx: float) -> dict:
    tags = torch.tensor(KTO_TAGS)
    pol = torch.tensor(KTO_FIXED["policy_logps"])
    ref = torch.tensor(KTO_FIXED["reference_logps"])
    ln = torch.tensor(KTO_FIXED["length"], dtype=torch.float32)
    pkl = torch.tensor(KL_SCENARIOS[scenario]["policy_kl_logps"])
    rkl = torch.tensor(KL_SCENARIOS[scenario]["reference_kl_logps"])
    tr = kto_trainer(beta, ftx)
    zero_logits = torch.zeros(1, 2, VOCAB)
    # mirrors the tuple CustomKTOTrainer.concatenated_forward returns (logits only feed logits/* metrics)
    tr.concatenated_forward = lambda model, batch: (pol[tags], pol[~tags], zero_logits.expand(int(tags.sum()), 2, VOCAB),
                                                    zero_logits.expand(int((~tags).sum()), 2, VOCAB), pkl,
                                                    (pol / ln)[tags])
    tr.compute_reference_log_probs = lambda model, batch: (ref[tags], ref[~tags], rkl)
    box = []
    orig = tr.kto_loss
    tr.kto_loss = lambda *a: box.append(orig(*a)) or box[-1]
    batch = {"labels": torch.zeros(len(KTO_TAGS), 3, dtype=torch.long), "kto_tags": tags}
    loss = tr.compute_loss(None, batch)
    stored = {k: v[0] for k, v in tr._stored_metrics["train"].items()}
    logged = capture_log(tr, {"loss": loss.item()})
    losses, cr, rr, kl = box[0]
    return {"scenario": scenario, "beta": beta, "pref_ftx": ftx, "desirable_weight": 1.0, "undesirable_weight": 1.0,
            "kto_tags": KTO_TAGS, **KTO_FIXED, **KL_SCENARIOS[scenario],
            "kto_loss_losses": L(losses), "chosen_rewards": L(cr), "rejected_rewards": L(rr), "kl": kl.item(),
            "loss": loss.item(), "batch_metrics": stored,
            "logged": {k: v for k, v in logged.items() if not k.startswith("logits/")}}


def make_kto_batch():
    rows = [([1, 2, 3, 4, 5], [IGNORE, IGNORE, 3, 4, 5], True),
            ([6, 7, 8, 9], [IGNORE, IGNORE, IGNORE, 9], False),
            ([1, 3, 9, 9, 2, 2, 4], [IGNORE, IGNORE, IGNORE, 9, 2, 2, 4], True),
            ([10, 5, 6], [IGNORE, 5, 6], False)]
    # KL rows: prompt of row i + response of row i-1 (FeedbackDatasetProcessor's shift)
    kl = [([1, 2, 5, 6], [IGNORE, IGNORE, 5, 6]),
          ([6, 7, 8, 3, 4, 5], [IGNORE, IGNORE, IGNORE, 3, 4, 5]),
          ([1, 3, 9, 9], [IGNORE, IGNORE, IGNORE, 9]),
          ([10, 9, 2, 2, 4], [IGNORE, 9, 2, 2, 4])]

    def pad(seq):
        T = max(len(i) for i, _ in seq)
        return (torch.tensor([i + [0] * (T - len(i)) for i, _ in seq]),
                torch.tensor([[1] * len(i) + [0] * (T - len(i)) for i, _ in seq]),
                torch.tensor([lb + [IGNORE] * (T - len(lb)) for _, lb in seq]))

    ids, att, lab = pad([(i, lb) for i, lb, _ in rows])
    kids, katt, klab = pad(kl)
    return {"input_ids": ids, "attention_mask": att, "labels": lab, "kl_input_ids": kids,
            "kl_attention_mask": katt, "kl_labels": klab, "kto_tags": torch.tensor([t for _, _, t in rows])}


def kto_e2e(beta: float, ftx: float, swapped: bool) -> dict:
    policy, ref = tables()
    if swapped:  # policy <-> reference, so that the batch KL estimate is positive instead of clamped to 0
        policy, ref = ref, policy
    tr = kto_trainer(beta, ftx, ref_model=TableLM(ref))
    batch = make_kto_batch()
    box = []
    orig = tr.kto_loss
    tr.kto_loss = lambda *a: box.append(orig(*a)) or box[-1]
    loss = tr.compute_loss(TableLM(policy), batch)
    stored = {k: v[0] for k, v in tr._stored_metrics["train"].items()}
    logged = capture_log(tr, {"loss": loss.item()})
    losses, cr, rr, kl = box[0]
    return {"beta": beta, "pref_ftx": ftx, "tables_swapped": swapped,
            "policy_table": "reference" if swapped else "policy", "kto_loss_losses": L(losses), "chosen_rewards": L(cr),
            "rejected_rewards": L(rr), "kl": kl.item(), "loss": loss.item(), "batch_metrics": stored,
            "logged": logged}


def main() -> None:
    policy, ref = tables()
    ids, att, lab = make_pairs()
    kb = make_kto_batch()
    out = {
        "get_batch_logps": batch_logps_case(),
        "dpo_fixed_inputs": DPO_FIXED,
        "dpo_note": "hinge and ipo: LF 0.9.5 calls trl 0.24 dpo_loss without loss_type, so the loss is trl's "
                    "default sigmoid (ipo still feeds per-token averages); NOT_LF_* fields show trl's real "
                    "hinge/ipo for comparison only. losses are per row after LF's in-place ftx add.",
        "dpo_fixed": [dpo_fixed(loss, beta, ftx) for loss in ("sigmoid", "hinge", "ipo", "orpo", "simpo")
                      for beta in (0.1, 0.5) for ftx in (0.0, 1.0)],
        "e2e_tables": {"note": "logits[b, t, :] = table[input_ids[b, t], :]; seed 1 generator",
                       "policy": L(policy), "reference": L(ref)},
        "dpo_e2e_batch": {"note": "rows 0-1 chosen, rows 2-3 rejected", "input_ids": ids.tolist(),
                          "attention_mask": att.tolist(), "labels": lab.tolist()},
        "dpo_e2e": [dpo_e2e(loss, 0.1, ftx) for loss in ("sigmoid", "hinge", "ipo", "orpo", "simpo")
                    for ftx in (0.0, 1.0)],
        "kto_fixed": [kto_fixed(s, 0.1, ftx) for s in KL_SCENARIOS for ftx in (0.0, 1.0)],
        "kto_e2e_batch": {k: v.tolist() for k, v in kb.items()},
        "kto_e2e": [kto_e2e(0.1, ftx, sw) for sw in (False, True) for ftx in (0.0, 1.0)],
        "kto_note": "kto_loss_losses are ordered [desirable rows..., undesirable rows...] (trl concatenates), not "
                    "batch order; loss = nanmean(kto_loss_losses) + pref_ftx * mean(-chosen_logps/len) / n_chosen "
                    "* batch_size; logged rewards/logps/logits are sums / counts",
    }
    Path(sys.argv[1]).write_text(json.dumps(out, ensure_ascii=False, indent=1) + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
