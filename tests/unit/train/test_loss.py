"""The answer-only loss computes what the model's own loss computes: the same value and the same gradients, for
LoRA and full fine-tuning, in one chunk or many; models whose head is more than a projection keep their own."""

from typing import Any

import pytest
import torch

from studio.train import loss as lossmod
from studio.train.loss import answer_loss, causal_head, head_set_aside, token_losses


def tiny(tied: bool = True) -> Any:
    from transformers import LlamaConfig, LlamaForCausalLM

    torch.manual_seed(0)
    config = LlamaConfig(vocab_size=97, hidden_size=32, intermediate_size=64, num_hidden_layers=2,
                         num_attention_heads=4, num_key_value_heads=2, tie_word_embeddings=tied, pad_token_id=0)
    return LlamaForCausalLM(config)


def batch() -> tuple[Any, Any, Any]:
    torch.manual_seed(1)
    ids = torch.randint(1, 97, (3, 20))
    mask = torch.ones_like(ids)
    mask[0, 14:] = 0
    labels = ids.clone()
    labels[:, :7] = -100  # the prompt
    labels[0, 14:] = -100  # padding
    return ids, mask, labels


def grads(model: Any) -> dict[str, Any]:
    out = {n: p.grad.clone() for n, p in model.named_parameters() if p.grad is not None}
    model.zero_grad()
    return out


@pytest.mark.parametrize("method", ["lora", "full"])
@pytest.mark.parametrize("chunk", [2**25, 97 * 5])  # one chunk; chunks of 5 rows
@pytest.mark.parametrize("num_items", [None, 40])  # this batch's count; the accumulated batch's
def test_same_loss_and_gradients(method: str, chunk: int, num_items: int | None,
                                 monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(lossmod, "CHUNK_ELEMENTS", chunk)
    model = tiny()
    if method == "lora":
        from peft import LoraConfig, get_peft_model

        model = get_peft_model(model, LoraConfig(r=4, target_modules="all-linear", init_lora_weights=False))
    ids, mask, labels = batch()
    extra = {} if num_items is None else {"num_items_in_batch": torch.tensor(num_items)}
    own = model(input_ids=ids, attention_mask=mask, labels=labels, **extra).loss
    own.backward()
    expected = grads(model)
    inner, head = causal_head(model)
    with head_set_aside(inner):
        hidden = model(input_ids=ids, attention_mask=mask).logits
    assert type(inner.lm_head) is torch.nn.Linear  # put back after the forward
    ours = answer_loss(hidden, head, labels, None if num_items is None else torch.tensor(num_items))
    ours.backward()
    got = grads(model)
    assert ours.item() == pytest.approx(own.item(), rel=1e-6)
    assert got.keys() == expected.keys() and len(got) > 0
    for name, value in expected.items():
        assert torch.allclose(got[name], value, rtol=1e-4, atol=1e-7), name


def test_per_row_losses_match_the_full_logits() -> None:
    model = tiny(tied=False).eval()
    ids, mask, labels = batch()
    with torch.no_grad():
        logits = model(input_ids=ids, attention_mask=mask).logits
        full = torch.nn.functional.cross_entropy(logits[:, :-1].transpose(1, 2), labels[:, 1:], ignore_index=-100,
                                                 reduction="none").sum(dim=1)
        inner, head = causal_head(model)
        with head_set_aside(inner):
            hidden = model(input_ids=ids, attention_mask=mask).logits
        values, rows = token_losses(hidden, head, labels)
    sums = torch.zeros(3).index_add_(0, rows, values)
    assert torch.allclose(sums, full, rtol=1e-5) and len(values) == int((labels[:, 1:] != -100).sum())


def test_a_head_that_is_more_than_a_projection_keeps_the_models_loss() -> None:
    model = tiny()
    assert causal_head(model) is not None
    model.config.model_type = "gemma2"  # tanh on the logits: not a type known to have a plain head
    assert causal_head(model) is None
    model = tiny(tied=False)
    model.lm_head = torch.nn.Linear(32, 97, bias=True)
    assert causal_head(model) is None


def test_fused_mlp_gives_the_same_numbers() -> None:
    from studio.train.fused import fuse_mlps

    ids, mask, labels = batch()
    results = []
    for fused in (False, True):
        model = tiny(tied=False)
        if fused:
            assert fuse_mlps(model) == 2  # both layers' MLPs
        loss = model(input_ids=ids, attention_mask=mask, labels=labels).loss
        loss.backward()
        results.append((loss.item(), grads(model)))
    (plain, expected), (ours, got) = results
    assert ours == plain
    for name, value in expected.items():
        assert torch.allclose(got[name], value, rtol=1e-5, atol=1e-8), name


def test_mixed_precision_and_evaluation() -> None:
    """Under bf16 mixed precision the wrapped forward hands back fp32 hidden states beside a bf16 head; without
    gradients (evaluation) the value is the same and no gradient is made."""
    from accelerate import Accelerator
    from peft import LoraConfig, get_peft_model

    model = get_peft_model(tiny().to(torch.bfloat16), LoraConfig(r=4, target_modules="all-linear"))
    model = Accelerator(mixed_precision="bf16", cpu=True).prepare_model(model)
    ids, mask, labels = batch()
    own = model(input_ids=ids, attention_mask=mask, labels=labels).loss
    inner, head = causal_head(model.module if hasattr(model, "module") else model)
    with head_set_aside(inner):
        hidden = model(input_ids=ids, attention_mask=mask).logits
    ours = answer_loss(hidden, head, labels)
    ours.backward()
    assert ours.item() == pytest.approx(own.item(), rel=2e-2)
    with torch.no_grad():
        assert answer_loss(hidden, head, labels).item() == pytest.approx(ours.item(), rel=1e-3)
