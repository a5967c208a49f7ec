"""The chat prompt is the training encoder's prompt, turn for turn; Regenerate never repeats a greedy reply;
a note shown in place of an empty reply is not fed back to the model."""

from pathlib import Path

import pytest

from studio.data.conversation import Conversation, Turn
from studio.encode.encoder import Encoder, Options
from studio.model.info import load_tokenizer
from studio.serve.chat import GenSettings, to_conversation
from studio.templates.registry import make_template
from studio.ui.chat_tab import NOTE, REGENERATE_TEMPERATURE, plain, regenerate_values

TWO_TURNS = [{"role": "user", "content": "who are you?"},
             {"role": "assistant", "content": "I am Pico, a tiny assistant."},
             {"role": "user", "content": "你是谁？"}]


@pytest.mark.parametrize("template", ["chatml", "qwen", "llama3", "default"])
def test_second_turn_prompt_is_the_encoders_prefix(demo_model: Path, template: str) -> None:
    tok = load_tokenizer(demo_model)
    encoder = Encoder(make_template(template, tok), tok, Options(cutoff_len=4096, mask_history=True))
    prompt = encoder.prompt_ids(to_conversation(TWO_TURNS))
    trained = encoder.encode(Conversation(turns=(*(Turn(m["role"], m["content"]) for m in TWO_TURNS),
                                                 Turn("assistant", "我是皮可。"))))
    answer = [i for i, label in zip(trained.input_ids, trained.labels, strict=True) if label != -100]
    # what generation continues from is exactly what training put before the second answer
    assert trained.input_ids[:len(prompt)] == prompt
    assert trained.input_ids[len(prompt):len(prompt) + len(answer)] == answer  # the learned answer comes next
    assert tok.decode(answer).startswith("我是皮可。")
    assert tok.decode(prompt).count("你是谁？") == 1 and "I am Pico" in tok.decode(prompt)


def test_regenerate_samples_when_greedy_and_moves_the_seed() -> None:
    names = [f.name for f in GenSettings.__dataclass_fields__.values()]
    greedy = tuple(getattr(GenSettings(), n) for n in names)
    values, raised = regenerate_values(greedy)
    assert raised and values[names.index("temperature")] == REGENERATE_TEMPERATURE
    assert values[names.index("seed")] == greedy[names.index("seed")] + 1
    warm = tuple(0.9 if n == "temperature" else v for n, v in zip(names, greedy, strict=True))
    values, raised = regenerate_values(warm)
    assert not raised and values[names.index("temperature")] == 0.9


def test_a_note_in_place_of_an_empty_reply_is_given_back_empty() -> None:
    history = [{"role": "user", "content": [{"type": "text", "text": "hi"}]},
               {"role": "assistant", "content": NOTE + "the model ended its answer immediately"}]
    assert plain(history) == [{"role": "user", "content": "hi"}, {"role": "assistant", "content": ""}]
