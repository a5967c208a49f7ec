"""Useful FLOPs per step, method-aware: LoRA is ~4 x the frozen weights (not 6), full is 6, freeze's untouched
lower layers 2; attention at each sequence's own length; the head at answer tokens only."""

from typing import Any

from studio.train.flops import FlopCount, row_lengths


def tiny() -> Any:
    from transformers import LlamaConfig, LlamaForCausalLM

    config = LlamaConfig(vocab_size=100, hidden_size=32, intermediate_size=64, num_hidden_layers=4,
                         num_attention_heads=4, num_key_value_heads=2, tie_word_embeddings=False)
    return LlamaForCausalLM(config)


def layer_weights(model: Any) -> int:
    return sum(p.numel() for n, p in model.named_parameters() if ".layers." in n and p.dim() == 2)


def test_full_lora_and_freeze() -> None:
    model = tiny()
    n, head = layer_weights(model), 100 * 32
    full = FlopCount.of(model, answer_only=True)
    assert (full.per_token, full.per_answer) == (6 * n, 6 * head)
    assert full.per_square == 4 * 6 * 32  # 4 layers, attention width 32, forward + backward
    assert full.batch([10, 4], answers=5) == 6 * n * 14 + 6 * head * 5 + 4 * 6 * 32 * (100 + 16)
    assert FlopCount.of(model, answer_only=False).batch([10], answers=5) == 6 * n * 10 + 6 * head * 10 + 4 * 6 * 32 * 100
    assert full.batch([10], answers=5, answer_only=False) == 6 * n * 10 + 6 * head * 10 + 4 * 6 * 32 * 100

    from peft import LoraConfig, get_peft_model

    lora = get_peft_model(tiny(), LoraConfig(r=4, target_modules="all-linear"))
    adapters = sum(p.numel() for name, p in lora.named_parameters() if "lora_" in name)
    count = FlopCount.of(lora, answer_only=True)
    assert count.per_token == 4 * n + 6 * adapters and count.per_answer == 4 * head

    frozen = tiny()
    for name, p in frozen.named_parameters():
        p.requires_grad = ".layers.3." in name  # freeze: the last layer trains
    per_layer = n // 4
    count = FlopCount.of(frozen, answer_only=True)
    assert count.per_token == 3 * 2 * per_layer + 6 * per_layer and count.per_answer == 4 * head
    assert count.per_square == (2 + 2 + 2 + 6) * 32


def test_packed_rows_count_each_example() -> None:
    assert row_lengths({"input_ids": [1] * 7}) == [7]
    assert row_lengths({"input_ids": [1] * 7, "position_ids": [0, 1, 2, 0, 1, 0, 1]}) == [3, 2, 2]
