"""Preference losses give LLaMA-Factory's numbers (tests/fixtures/lf_golden_pref_loss.json, written by its own DPO and
KTO trainers: bench/lf_golden_pref_loss.py); the chunked log-probabilities equal the model's own, gradients too."""

import json
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
import torch

from studio.core.config import from_dict
from studio.train import pref_loss
from studio.train.pref_loss import AVERAGED, kto_loss, pair_losses, sequence_logps

GOLDEN = json.loads((Path(__file__).parents[2] / "fixtures" / "lf_golden_pref_loss.json").read_text(encoding="utf-8"))
T = torch.tensor


def cfg(**values: Any) -> SimpleNamespace:
    base = {"pref_beta": 0.1, "pref_loss": "sigmoid", "pref_ftx": 0.0, "simpo_gamma": 0.5, "kto_chosen_weight": 1.0,
            "kto_rejected_weight": 1.0}
    return SimpleNamespace(**(base | values))


@pytest.mark.parametrize("case", GOLDEN["dpo_fixed"], ids=lambda c: f"{c['pref_loss']}-b{c['beta']}-ftx{c['pref_ftx']}")
def test_dpo_family_matches_llamafactory(case: dict) -> None:
    c = cfg(pref_beta=case["beta"], pref_loss=case["pref_loss"], pref_ftx=case["pref_ftx"],
            simpo_gamma=case["simpo_gamma"])
    ref = [None if case[k] is None else T(case[k]) for k in ("reference_chosen_logps", "reference_rejected_logps")]
    losses, good, bad = pair_losses(c, T(case["policy_chosen_logps"]), T(case["policy_rejected_logps"]), *ref,
                                    T(case["policy_chosen_logps_avg"]))
    if case["pref_loss"] in ("hinge", "ipo"):
        # LLaMA-Factory 0.9.5 hands these to TRL 0.24 without the loss type, which then computes sigmoid DPO; we
        # compute the losses asked for: TRL's own formulas, recorded beside LLaMA-Factory's numbers
        expected = T(case["NOT_LF_trl_dpo_loss_with_loss_type_passed"]) + case["pref_ftx"] * T(case["sft_loss"])
    else:
        expected = T(case["losses"])
    assert torch.allclose(losses, expected, rtol=1e-5, atol=1e-6)
    assert torch.allclose(good, T(case["chosen_rewards"]), atol=1e-6)
    assert torch.allclose(bad, T(case["rejected_rewards"]), atol=1e-6)
    assert (good > bad).float().mean().item() == pytest.approx(case["logged"]["rewards/accuracies"])


@pytest.mark.parametrize("case", GOLDEN["kto_fixed"], ids=lambda c: f"{c['scenario']}-ftx{c['pref_ftx']}")
def test_kto_matches_llamafactory(case: dict) -> None:
    c = cfg(pref_beta=case["beta"], pref_ftx=case["pref_ftx"], kto_chosen_weight=case["desirable_weight"],
            kto_rejected_weight=case["undesirable_weight"])
    tags = T(case["kto_tags"])
    loss, rewards, kl = kto_loss(c, T(case["policy_logps"]), T(case["length"]), T(case["reference_logps"]),
                                 T(case["policy_kl_logps"]), T(case["reference_kl_logps"]), tags)
    assert loss.item() == pytest.approx(case["loss"], rel=1e-5)
    assert kl.item() == pytest.approx(case["kl"], abs=1e-6)
    assert torch.allclose(rewards[tags], T(case["chosen_rewards"]), atol=1e-6)
    assert torch.allclose(rewards[~tags], T(case["rejected_rewards"]), atol=1e-6)


def test_get_batch_logps_matches_llamafactory() -> None:
    """The fallback path (a model's own logits) on LLaMA-Factory's own fixed logits."""
    case = GOLDEN["get_batch_logps"]
    logits, labels = T(case["logits"]), T(case["labels"])

    class Fixed(torch.nn.Module):
        def forward(self, input_ids: Any, **_: Any) -> Any:
            return SimpleNamespace(logits=logits)

    sums, counts = sequence_logps(Fixed(), {"input_ids": labels.clamp(min=0), "labels": labels})
    assert torch.allclose(sums, T(case["logps_sum"]), atol=1e-5)
    assert counts.tolist() == case["valid_length"]


def tiny(tied: bool = True) -> Any:
    from transformers import LlamaConfig, LlamaForCausalLM

    torch.manual_seed(0)
    return LlamaForCausalLM(LlamaConfig(vocab_size=97, hidden_size=32, intermediate_size=64, num_hidden_layers=2,
                                        num_attention_heads=4, num_key_value_heads=2, tie_word_embeddings=tied,
                                        pad_token_id=0))


@pytest.mark.parametrize("chunk", [2**25, 300])  # one chunk, or a few rows per chunk
def test_chunked_logps_equal_the_models_own_with_gradients(monkeypatch: pytest.MonkeyPatch, chunk: int) -> None:
    monkeypatch.setattr(pref_loss, "LOGIT_CHUNK_ELEMENTS", chunk)
    torch.manual_seed(1)
    ids = torch.randint(1, 97, (4, 16))
    mask = torch.ones_like(ids)
    mask[1, 11:] = 0
    labels = ids.clone()
    labels[:, :6] = -100
    labels[1, 11:] = -100
    batch = {"input_ids": ids, "attention_mask": mask, "labels": labels}
    results = []
    for fast in (True, False):
        model = tiny()
        sums, counts = sequence_logps(model, batch, fast=fast)
        (sums * T([1.0, -2.0, 0.5, 3.0])).sum().backward()
        results.append((sums.detach(), counts, {n: p.grad.clone() for n, p in model.named_parameters()}))
    (fast_sums, fast_counts, fast_grads), (own_sums, own_counts, own_grads) = results
    assert torch.equal(fast_counts, own_counts) and fast_counts.tolist()[1] == 5
    assert torch.allclose(fast_sums, own_sums, rtol=1e-5, atol=1e-5)
    for name, grad in own_grads.items():
        assert torch.allclose(fast_grads[name], grad, rtol=1e-4, atol=1e-6), name


def test_averaged_losses_and_beta_bounds() -> None:
    assert set(AVERAGED) == {"ipo", "orpo", "simpo"}
    for beta in (0, -0.1):
        _, issues = from_dict({"stage": "dpo", "pref_beta": beta}, "x.yaml")
        assert [i.field for i in issues if i.level == "error"] == ["pref_beta"]
        assert "pref_beta" in issues[0].text() and "0.001" in issues[0].text()
    _, issues = from_dict({"stage": "dpo", "packing": True}, "x.yaml")
    assert issues[0].text() == "packing: applies to stage sft only; with stage dpo turn it off."
