"""Conversation -> messages of slots (text or a special token), with LLaMA-Factory 0.9's template definitions.

A template writes each message as a list of slots; the encoder tokenizes every text slot on its own
(as LLaMA-Factory does), so the same tokenizer and data give the same ids. Messages pair up as
(prompt, answer): prefix + system + user | assistant, then user | assistant, ...
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from studio.data.conversation import Conversation
from studio.templates.toolcalls import calls_text, tools_text


@dataclass(frozen=True)
class Special:
    """A token named by role, resolved against the tokenizer: the model's BOS, or the template's EOS."""
    kind: str


BOS, EOS = Special("bos"), Special("eos")
Slot = str | Special
Message = list[Slot]
THOUGHT = "<think>\n\n</think>\n\n"  # an empty thought, trained before answers that carry none (qwen3)
AUTO = "auto"


@dataclass(frozen=True)
class Template:
    name: str
    user: tuple[Slot, ...] = ("{{content}}",)
    assistant: tuple[Slot, ...] = ("{{content}}", EOS)
    system: tuple[Slot, ...] | None = None  # None: the text as it is
    function: tuple[Slot, ...] | None = None  # None: written like an assistant message
    observation: tuple[Slot, ...] | None = None  # None: written like a user turn
    prefix: tuple[Slot, ...] = ()
    default_system: str = ""
    stop_words: tuple[str, ...] = ()
    replace_eos: bool = False  # the first stop word becomes the EOS token
    tool_format: str = "default"
    fuse_system: bool = False  # the system text goes inside the first user message (mistral, gemma)
    thinking: bool = False  # an answer without a thought gets an empty one, trained (qwen3)
    specials: tuple[str, ...] = ()  # tokens its markup needs as single tokens in the vocabulary
    families: tuple[str, ...] = field(default=(), compare=False)  # model_type values it is the format of

    @property
    def trains_stop(self) -> bool:
        """Whether an answer ends with a token the model can learn to stop on (`empty` has none)."""
        tail = [s.split("{{content}}")[-1] if isinstance(s, str) else s for s in self.assistant]
        return any(s == EOS or any(w in s for w in self.stop_words) for s in tail if s)

    def messages(self, conv: Conversation, one_turn: bool = False) -> list[Message]:
        """One slot list per turn; raises BadToolText for tools / function calls that are not JSON.

        `one_turn`: only the last answer is judged (preference rows, LLaMA-Factory's encode_oneturn): with a thinking
        template the earlier answers lose their thoughts and get no empty one."""
        system = conv.system or self.default_system
        out: list[Message] = []
        last = len(conv.turns) - 1
        for i, turn in enumerate(conv.turns):
            earlier = one_turn and i < last and turn.role in ("assistant", "function")
            if self.thinking and earlier:
                turn = type(turn)(turn.role, _THOUGHT_RE.sub("", turn.content).lstrip("\n"))
            head: Message = []
            fused = ""
            if i == 0:
                head += self.prefix
                if system or conv.tools:
                    text = system + (tools_text(conv.tools, self.tool_format) if conv.tools else "")
                    system_slots = _fill(self.system or ("{{content}}",), text)
                    if self.fuse_system:
                        fused = str(system_slots[0])
                    else:
                        head += system_slots
            if turn.role == "user":
                body = _fill(self.user, fused + turn.content)
            elif turn.role == "tool":
                body = _fill(self.observation or self.user, turn.content)
            elif turn.role == "function":
                body = _fill(self.function or self.assistant, calls_text(turn.content, self.tool_format))
            else:
                body = _fill(self.assistant, turn.content)
            if self.thinking and turn.role in ("assistant", "function") and not _has_thought(turn.content) \
                    and not earlier:
                body = [THOUGHT, *body]
            out.append(head + body)
        return out

    def text_messages(self, conv: Conversation) -> list[Message]:
        """Pre-training text: the text and the stop token, one answer with no prompt."""
        return [[], [conv.response_text(), EOS]]


def _fill(slots: tuple[Slot, ...], content: str) -> Message:
    return [s.replace("{{content}}", content, 1) if isinstance(s, str) else s for s in slots]


_THOUGHT_RE = re.compile("<think>(.*?)</think>", re.DOTALL)


def _has_thought(content: str) -> bool:
    return "<think>" in content or "</think>" in content


_IM = ("<|im_start|>", "<|im_end|>")
_QWEN_OBS = ("<|im_start|>user\n<tool_response>\n{{content}}\n</tool_response><|im_end|>\n<|im_start|>assistant\n",)
_QWEN = dict(
    user=("<|im_start|>user\n{{content}}<|im_end|>\n<|im_start|>assistant\n",),
    assistant=("{{content}}<|im_end|>\n",),
    system=("<|im_start|>system\n{{content}}<|im_end|>\n",),
    function=("{{content}}<|im_end|>\n",),
    observation=_QWEN_OBS,
    tool_format="qwen",
    stop_words=("<|im_end|>",),
    replace_eos=True,
    specials=_IM,
)

TEMPLATES: dict[str, Template] = {t.name: t for t in (
    Template("default",
             user=("Human: {{content}}", EOS, "\nAssistant:"),
             assistant=("{{content}}", EOS, "\n"),
             system=("System: {{content}}", EOS, "\n")),
    Template("empty", assistant=("{{content}}",)),
    Template("alpaca",
             user=("### Instruction:\n{{content}}\n\n### Response:\n",),
             assistant=("{{content}}", EOS, "\n\n"),
             default_system="Below is an instruction that describes a task. "
                            "Write a response that appropriately completes the request.\n\n"),
    Template("chatml",
             user=("<|im_start|>user\n{{content}}<|im_end|>\n<|im_start|>assistant\n",),
             assistant=("{{content}}<|im_end|>\n",),
             system=("<|im_start|>system\n{{content}}<|im_end|>\n",),
             observation=("<|im_start|>tool\n{{content}}<|im_end|>\n<|im_start|>assistant\n",),
             stop_words=("<|im_end|>", "<|im_start|>"), replace_eos=True, specials=_IM),
    Template("qwen", default_system="You are Qwen, created by Alibaba Cloud. You are a helpful assistant.",
             families=("qwen2",), **_QWEN),
    Template("qwen2_vl", default_system="You are a helpful assistant.", families=("qwen2_vl", "qwen2_5_vl"),
             **_QWEN),
    Template("qwen3", thinking=True, families=("qwen3", "qwen3_moe"), **_QWEN),
    Template("llama3",
             user=("<|start_header_id|>user<|end_header_id|>\n\n{{content}}<|eot_id|>"
                   "<|start_header_id|>assistant<|end_header_id|>\n\n",),
             assistant=("{{content}}<|eot_id|>",),
             system=("<|start_header_id|>system<|end_header_id|>\n\n{{content}}<|eot_id|>",),
             function=("{{content}}<|eot_id|>",),
             observation=("<|start_header_id|>ipython<|end_header_id|>\n\n{{content}}<|eot_id|>"
                          "<|start_header_id|>assistant<|end_header_id|>\n\n",),
             prefix=(BOS,), tool_format="llama3", stop_words=("<|eot_id|>", "<|eom_id|>"), replace_eos=True,
             specials=("<|start_header_id|>", "<|end_header_id|>", "<|eot_id|>")),
    Template("mistral",
             user=("[INST] {{content}}[/INST]",),
             assistant=(" {{content}}", EOS),
             system=("{{content}}\n\n",),
             function=("[TOOL_CALLS] {{content}}", EOS),
             observation=("""[TOOL_RESULTS] {"content": {{content}}}[/TOOL_RESULTS]""",),
             prefix=(BOS,), tool_format="mistral", fuse_system=True, families=("mistral",)),
    Template("gemma",
             user=("<start_of_turn>user\n{{content}}<end_of_turn>\n<start_of_turn>model\n",),
             assistant=("{{content}}<end_of_turn>\n",),
             system=("{{content}}\n\n",),
             observation=("<start_of_turn>tool\n{{content}}<end_of_turn>\n<start_of_turn>model\n",),
             prefix=(BOS,), stop_words=("<end_of_turn>",), replace_eos=True, fuse_system=True,
             specials=("<start_of_turn>", "<end_of_turn>"), families=("gemma", "gemma2")),
)}
TEMPLATE_NAMES = (*TEMPLATES, AUTO)

# The chatml format as a Jinja chat template, saved into the demo tokenizer so that
# `apply_chat_template` and other tools see the format the demo was trained with.
CHATML_JINJA = (
    "{% for message in messages %}"
    "{{ '<|im_start|>' + message['role'] + '\n' + message['content'] + '<|im_end|>' + '\n' }}"
    "{% endfor %}"
    "{% if add_generation_prompt %}{{ '<|im_start|>assistant\n' }}{% endif %}"
)


def get_template(name: str) -> Template:
    return TEMPLATES[name]  # names are validated against TEMPLATE_NAMES by the config schema

