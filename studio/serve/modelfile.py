"""An Ollama Modelfile for an exported GGUF: the chat template in Ollama's Go-template syntax, derived from the same
template the model was trained with, so that Ollama writes exactly the prompt text training wrote.

The template is read off by rendering a conversation with marker texts through our own template (a named one or
the model's Jinja one, `auto`) and cutting the result at the markers; each piece becomes the literal text around
`{{ .System }}` / `{{ .Content }}`."""

from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass
from typing import Any

from studio.core.errors import StudioError
from studio.data.conversation import Conversation, Turn
from studio.templates.named import BOS, EOS, Special, Template

_SYS, _USER, _ANSWER = "\x01SYSTEM\x01", "\x01USER\x01", "\x01ANSWER\x01"


@dataclass(frozen=True)
class ChatFormat:
    """A template's pieces as literal text: `head` opens the prompt, `system` wraps the system text, `user` and
    `assistant` wrap one message each; `first_user` is the first user message when the system text goes inside it."""
    head: str
    system: str
    user: str
    assistant: str
    first_user: str = ""
    stops: tuple[str, ...] = ()
    default_system: str = ""  # the Modelfile's SYSTEM: Ollama's .System when a request sends none
    always_system: bool = False  # the model's own template writes a system block even without a system text


def _text(message: list, bos: str, eos: str) -> str:
    def one(slot: Any) -> str:
        if isinstance(slot, Special):
            return bos if slot == BOS else eos if slot == EOS else ""
        return str(slot)
    return "".join(one(s) for s in message)


def chat_format(template: Any, tokenizer: Any, add_bos: bool) -> ChatFormat:
    """Cut the template's text for [system, user, answer, user] at the markers. The BOS that the runtime adds
    (`add_bos`) is left out of the text, as llama.cpp would otherwise put it in twice."""
    bos = "" if add_bos else (tokenizer.bos_token or "")
    eos = template.stop_words[0] if template.replace_eos and template.stop_words else (tokenizer.eos_token or "")
    default = ""
    if isinstance(template, Template):  # its default system prompt becomes the Modelfile's SYSTEM
        default, template = template.default_system, dataclasses.replace(template, default_system="")
    turns = (Turn("user", _USER), Turn("assistant", _ANSWER), Turn("user", _USER))

    def render(system: str) -> list[str]:
        return [_text(m, bos, eos) for m in template.messages(Conversation(turns=turns, system=system))]

    with_system, without = render(_SYS), render("")
    user, assistant, first = without[2], without[1], with_system[0]
    name = getattr(template, "name", "?")
    if user.count(_USER) != 1 or assistant.count(_ANSWER) != 1 or not without[0].endswith(user) \
            or first.count(_SYS) != 1:
        raise StudioError("gguf.template", template=name)
    plain = without[0][: -len(user)]
    stops = tuple(dict.fromkeys(w for w in (*template.stop_words, eos) if w))
    if not first.endswith(user):  # the system text is written inside the first user message
        if not first.startswith(plain):
            raise StudioError("gguf.template", template=name)
        return ChatFormat(plain, "", user, assistant, first[len(plain):], stops, default)
    wrapped = first[: -len(user)]
    if wrapped.startswith(plain):
        return ChatFormat(plain, wrapped[len(plain):], user, assistant, stops=stops, default_system=default)
    before, after = wrapped.split(_SYS)  # a Jinja template that writes a default system prompt of its own
    if not (plain.startswith(before) and plain.endswith(after)):
        raise StudioError("gguf.template", template=name)
    return ChatFormat("", wrapped, user, assistant, stops=stops, default_system=plain[len(before): len(plain) - len(after)],
                      always_system=True)


def _literal(text: str) -> str:
    """Template text as Go template source: `{{` cannot appear as plain text."""
    return text.replace("{{", '{{ "{{" }}')


def _fill(piece: str, marker: str, value: str) -> str:
    before, _, after = piece.partition(marker)
    return _literal(before) + value + _literal(after)


def go_template(fmt: ChatFormat) -> str:
    """The Go template Ollama renders per request: `.System` once, then each user / assistant message."""
    user = _fill(fmt.user, _USER, "{{ .Content }}")
    answer = _fill(fmt.assistant, _ANSWER, "{{ .Content }}")
    if fmt.first_user:  # the system text is written into the first user message, once
        first = _fill(fmt.first_user.replace(_USER, "\x02"), _SYS, "{{ $system }}").replace("\x02", "{{ .Content }}")
        user = "{{ if $system }}" + first + '{{ $system = "" }}{{ else }}' + user + "{{ end }}"
        return (_literal(fmt.head) + "{{ $system := .System }}{{ range .Messages }}"
                '{{ if eq .Role "user" }}' + user + '{{ else if eq .Role "assistant" }}' + answer + "{{ end }}{{ end }}")
    system = _fill(fmt.system, _SYS, "{{ .System }}")
    if not fmt.always_system:
        system = "{{ if .System }}" + system + "{{ end }}"
    return (_literal(fmt.head) + system + "{{ range .Messages }}"
            '{{ if eq .Role "user" }}' + user + '{{ else if eq .Role "assistant" }}' + answer + "{{ end }}{{ end }}")


def modelfile(gguf_name: str, fmt: ChatFormat) -> str:
    template, system = go_template(fmt), fmt.default_system
    if '"""' in template or '"""' in system:
        raise StudioError("gguf.template", template='"""')
    lines = [f"FROM ./{gguf_name}", f'TEMPLATE """{template}"""']
    if system:
        lines.append(f'SYSTEM """{system}"""')
    lines += [f"PARAMETER stop {json.dumps(stop, ensure_ascii=False)}" for stop in fmt.stops]
    return "\n".join(lines) + "\n"


def _raw(text: str) -> str:
    return "{% raw %}" + text + "{% endraw %}" if text else ""


def jinja_template(fmt: ChatFormat) -> str:
    """The same format as a Jinja chat template (for a GGUF's metadata and a tokenizer that has none): a system
    message first, else the default, then user / assistant messages. A user message includes the assistant header,
    as in training, so the prompt ends ready for the answer."""
    def wrap(piece: str, marker: str, value: str) -> str:
        before, _, after = piece.partition(marker)
        return _raw(before) + "{{ " + value + " }}" + _raw(after)

    user = wrap(fmt.user, _USER, "m['content']")
    answer = wrap(fmt.assistant, _ANSWER, "m['content']")
    out = ("{%- if messages and messages[0]['role'] == 'system' -%}{%- set ns = namespace(system=messages[0]['content']"
           ", rest=messages[1:]) -%}{%- else -%}{%- set ns = namespace(system=" + json.dumps(fmt.default_system)
           + ", rest=messages) -%}{%- endif -%}" + _raw(fmt.head))
    if fmt.first_user:
        before, _, after = fmt.first_user.partition(_SYS)
        first = _raw(before) + "{{ ns.system }}" + wrap(after, _USER, "m['content']")
        user = "{%- if ns.system -%}" + first + "{%- set ns.system = '' -%}{%- else -%}" + user + "{%- endif -%}"
    else:
        system = wrap(fmt.system, _SYS, "ns.system")
        out += system if fmt.always_system else "{%- if ns.system -%}" + system + "{%- endif -%}"
    return (out + "{%- for m in ns.rest -%}{%- if m['role'] == 'user' -%}" + user
            + "{%- elif m['role'] == 'assistant' -%}" + answer + "{%- endif -%}{%- endfor -%}")
