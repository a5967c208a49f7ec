"""base model + adapter -> streaming replies, through the same template code that training used."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, fields
from pathlib import Path

from studio.data.conversation import Conversation, Turn
from studio.encode import Encoder, Options, TemplateLike, eos_id
from studio.errors import StudioError
from studio.rundir import ADAPTER_DIR, CONFIG_FILE
from studio.workspace import Workspace


@dataclass(frozen=True)
class GenSettings:
    max_new_tokens: int = 128
    temperature: float = 0.0  # 0 = greedy
    top_p: float = 1.0
    top_k: int = 50
    repetition_penalty: float = 1.0
    seed: int = 0

    def check(self) -> None:
        bounds = {"max_new_tokens": (1, 8192), "temperature": (0.0, 2.0), "top_p": (0.01, 1.0),
                  "top_k": (0, 1000), "repetition_penalty": (0.5, 2.0), "seed": (0, 2**31 - 1)}
        for f in fields(self):
            low, high = bounds[f.name]
            value = getattr(self, f.name)
            if not low <= value <= high:
                raise StudioError("chat.bad_setting", field=f.name, value=value, low=low, high=high)


@dataclass(frozen=True)
class ChatTarget:
    base: str
    adapter: Path | None
    template: str


def run_target(ws: Workspace, run_id: str) -> ChatTarget:
    """What chatting with a run loads: its base model, its final adapter, its template."""
    from studio import config as cfgmod
    from studio.runs import get_run

    info = get_run(ws, run_id)
    adapter = info.path / ADAPTER_DIR
    if not (adapter / "adapter_config.json").exists():
        raise StudioError("run.no_adapter", run=run_id)
    cfg = cfgmod.load(info.path / CONFIG_FILE)
    local = ws.root / cfg.model_name_or_path
    return ChatTarget(str(local) if local.exists() else cfg.model_name_or_path, adapter, cfg.template)


@dataclass
class ChatModel:
    model: object
    tokenizer: object
    template: TemplateLike
    base: str
    adapter: str

    def describe(self) -> str:
        return f"{self.base}" + (f" + {self.adapter}" if self.adapter else "") + f" · {self.template.name}"


def load(base: str, adapter: Path | None, template: str, trust_remote_code: bool = False) -> ChatModel:
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    source = str(adapter) if adapter else base  # the adapter folder carries the tokenizer it was trained with
    tokenizer = AutoTokenizer.from_pretrained(source, trust_remote_code=trust_remote_code)
    dtype = torch.bfloat16 if torch.cuda.is_available() else torch.float32
    model = AutoModelForCausalLM.from_pretrained(base, dtype=dtype, trust_remote_code=trust_remote_code,
                                                 use_safetensors=True)
    if adapter:
        from peft import PeftModel

        model = PeftModel.from_pretrained(model, str(adapter))
    if torch.cuda.is_available():
        model = model.to("cuda")
    model.eval()
    from studio.tokenized import make_template

    return ChatModel(model, tokenizer, make_template(template, tokenizer), base, str(adapter or ""))


def to_conversation(messages: list[dict[str, str]], system: str = "") -> Conversation:
    turns = tuple(Turn(m["role"], m["content"]) for m in messages if m["role"] in ("user", "assistant"))  # type: ignore[arg-type]
    return Conversation(turns=turns, system=system)


@dataclass
class ReplyStats:
    first_token_s: float = 0.0
    tokens: int = 0
    tokens_per_s: float = 0.0


def stream_reply(cm: ChatModel, messages: list[dict[str, str]], settings: GenSettings,
                 system: str = "", stats: ReplyStats | None = None) -> Iterator[str]:
    """Yield the growing reply text as tokens arrive."""
    import torch
    from transformers import TextIteratorStreamer

    settings.check()
    tok = cm.tokenizer
    ids = Encoder(cm.template, tok, Options(cutoff_len=1 << 30)).prompt_ids(to_conversation(messages, system))
    inputs = {"input_ids": torch.tensor([ids], device=cm.model.device)}
    stops = {eos_id(cm.template, tok), tok.eos_token_id, *map(tok.convert_tokens_to_ids, cm.template.stop_words)}
    stop_ids = sorted(i for i in stops if isinstance(i, int) and i != tok.unk_token_id)
    streamer = TextIteratorStreamer(tok, skip_prompt=True, skip_special_tokens=True, timeout=300)
    sample = settings.temperature > 0
    kwargs = dict(**inputs, streamer=streamer, max_new_tokens=settings.max_new_tokens, do_sample=sample,
                  repetition_penalty=settings.repetition_penalty, eos_token_id=stop_ids or None,
                  pad_token_id=tok.pad_token_id)
    if sample:
        kwargs |= {"temperature": settings.temperature, "top_p": settings.top_p, "top_k": settings.top_k}
    torch.manual_seed(settings.seed)
    started = time.perf_counter()
    thread = threading.Thread(target=cm.model.generate, kwargs=kwargs, daemon=True)
    thread.start()
    text, count = "", 0
    for piece in streamer:
        if not piece:  # the streamer yields empty strings while it waits for a word boundary
            continue
        count += 1
        if stats is not None and count == 1:
            stats.first_token_s = time.perf_counter() - started
        text += piece
        yield text
    thread.join()
    if stats is not None:
        stats.tokens = count
        stats.tokens_per_s = count / max(time.perf_counter() - started - stats.first_token_s, 1e-9)


_cache: dict[ChatTarget, ChatModel] = {}
_cache_lock = threading.Lock()


def get_or_load(target: ChatTarget) -> ChatModel:
    """Keep one model in memory: loading another frees the previous one first."""
    with _cache_lock:
        if target not in _cache:
            _cache.clear()
            _cache[target] = load(target.base, target.adapter, target.template)
        return _cache[target]


def chat_runs(ws: Workspace) -> list[str]:
    """Runs with a final adapter, newest first: what the Chat tab offers."""
    from studio.runs import list_runs

    return [r.run_id for r in list_runs(ws) if (r.path / ADAPTER_DIR / "adapter_config.json").exists()]
