"""Model (+ adapter) -> streaming replies, through the same template code that training used.

One model is held per server process; generation on it is serialised by a lock, because the base side of a
comparison switches the adapter off for the length of one generate call."""

from __future__ import annotations

import contextlib
import gc
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

from studio.core.errors import StudioError
from studio.core.messages import Both, both, render
from studio.data.conversation import Conversation, Turn
from studio.encode.encoder import Encoder, Media, Options, TemplateLike
from studio.serve.targets import ChatTarget
from studio.templates.registry import eos_id

Say = Callable[[Both], None]


@dataclass(frozen=True)
class GenSettings:
    """Generation settings, declared once: the Chat tab's boxes and `chat`'s flags take their defaults, bounds and
    help from here."""
    max_new_tokens: int = field(default=128, metadata={"range": (1, 8192), "help": "tokens to generate at most"})
    temperature: float = field(default=0.0, metadata={"range": (0.0, 2.0), "help": "0 = greedy"})
    top_p: float = field(default=1.0, metadata={"range": (0.01, 1.0), "help": "nucleus sampling share"})
    top_k: int = field(default=50, metadata={"range": (0, 1000), "help": "sample among this many; 0 = all"})
    repetition_penalty: float = field(default=1.0, metadata={"range": (0.5, 2.0), "help": "1 = none"})
    seed: int = field(default=0, metadata={"range": (0, 2**31 - 1), "help": "same seed, same sample"})

    def check(self) -> None:
        for f in fields(self):
            low, high = f.metadata["range"]
            value = getattr(self, f.name)
            if value is None or not low <= value <= high:
                raise StudioError("chat.bad_setting", field=f.name, value=value, low=low, high=high)


@dataclass
class ChatModel:
    target: ChatTarget
    model: Any
    tokenizer: Any
    template: TemplateLike
    lock: threading.Lock = field(default_factory=threading.Lock)
    original: Any = None  # a full / freeze run's starting model, loaded on the first comparison
    images: Any = None  # the image step (processor, sizes, pad token) of a model that sees images

    def describe(self) -> str:
        return f"{self.target.describe()} · template {self.template.name}"


def quiet() -> None:
    """Progress is said in sentences: transformers' bars garble logs, and peft's deprecation note is not ours."""
    import warnings

    from transformers.utils import logging as hf_logging

    hf_logging.disable_progress_bar()
    warnings.filterwarnings("ignore", message=".*is_gradient_checkpointing.*", category=FutureWarning)


def _load_model(path: str, trust_remote_code: bool) -> Any:
    import torch
    from transformers import AutoModelForCausalLM, AutoModelForImageTextToText

    from studio.model.vision import sees_images

    gpu = torch.cuda.is_available()
    auto = AutoModelForImageTextToText if sees_images(path) else AutoModelForCausalLM
    model = auto.from_pretrained(path, dtype=torch.bfloat16 if gpu else torch.float32,
                                 trust_remote_code=trust_remote_code, use_safetensors=True)
    return (model.to("cuda") if gpu else model).eval()


def unsloth_available() -> bool:
    """unsloth is an optional, faster backend: offered only where it is installed and a GPU is present."""
    import importlib.util

    from studio.core.machine import has_gpu

    return importlib.util.find_spec("unsloth") is not None and has_gpu()


def _load_unsloth(target: ChatTarget) -> Any:
    """unsloth reads an adapter folder (and its base) or a model folder itself; our tokenizer and template stay."""
    from unsloth import FastLanguageModel

    model, _ = FastLanguageModel.from_pretrained(model_name=str(target.adapter or target.base), dtype=None,
                                                 load_in_4bit=False)
    FastLanguageModel.for_inference(model)
    return model


def load(target: ChatTarget, say: Say | None = None, trust_remote_code: bool = False) -> ChatModel:
    """Tokenizer, weights, adapter; `say` hears each step (the Load button's progress, the CLI's stderr)."""
    if target.backend == "unsloth" and not unsloth_available():
        raise StudioError("chat.unsloth_unavailable")
    from studio.core import hf

    hf.ready(with_peft=target.adapter is not None)
    from transformers import AutoTokenizer

    from studio.model.info import check_remote_code
    from studio.templates.registry import make_template

    quiet()
    say = say or (lambda _: None)
    started = time.perf_counter()
    say(both("chat.step_tokenizer", path=target.tokenizer))
    for folder in {target.tokenizer, target.base}:
        check_remote_code(folder, trust_remote_code)
    tokenizer = AutoTokenizer.from_pretrained(target.tokenizer, trust_remote_code=trust_remote_code)
    if target.backend == "unsloth":
        say(both("chat.step_unsloth", path=str(target.adapter or target.base)))
        model = _load_unsloth(target)
    else:
        say(both("chat.step_weights", path=target.base))
        model = _load_model(target.base, trust_remote_code)
    if target.adapter and target.backend != "unsloth":
        from peft import PeftModel

        say(both("chat.step_adapter", path=str(target.adapter)))
        model = PeftModel.from_pretrained(model, str(target.adapter)).eval()
        if target.start is not None:  # the adapter the run started from, beside it (Compare's middle side)
            say(both("chat.step_adapter", path=str(target.start)))
            model.load_adapter(str(target.start), adapter_name=START)
            model.set_adapter("default")
    cm = ChatModel(target, model, tokenizer, make_template(target.template, tokenizer), images=_image_step(target,
                                                                                                          tokenizer))
    say(both("chat.step_ready", seconds=f"{time.perf_counter() - started:.1f}"))
    return cm


def _image_step(target: ChatTarget, tokenizer: Any) -> Any:
    from studio.model.vision import IMAGE_PAD, ImageSpec, load_image_processor, sees_images
    from studio.train.trainer import ImageInputs

    if not sees_images(target.base):
        return None
    processor_dir = target.tokenizer if (Path(target.tokenizer) / "preprocessor_config.json").exists() else target.base
    spec = ImageSpec.of(processor_dir, *target.image_pixels)
    return ImageInputs(load_image_processor(processor_dir), spec, tokenizer.convert_tokens_to_ids(IMAGE_PAD))


def to_conversation(messages: list[dict[str, Any]], system: str = "") -> Conversation:
    """Chat messages -> a conversation. A message may carry "images" (file paths): each gets an <image> placeholder
    at the start of its text unless the text already places them."""
    turns, images = [], []
    for m in messages:
        if m["role"] not in ("user", "assistant"):
            continue
        content, own = m["content"], [str(p) for p in m.get("images") or ()]
        if own and content.count("<image>") != len(own):
            content = "<image>" * len(own) + content.replace("<image>", "")
        images += own
        turns.append(Turn(m["role"], content))
    return Conversation(turns=tuple(turns), system=system, images=tuple(images))


@dataclass
class ReplyStats:
    first_token_s: float = 0.0
    tokens: int = 0
    tokens_per_s: float = 0.0
    total_s: float = 0.0

    def line(self, lang: str = "en") -> str:
        return render("chat.stats", lang, ttft=f"{self.first_token_s:.3f}", tps=f"{self.tokens_per_s:.0f}",
                      n=self.tokens)


def _streamer_class() -> type:
    from transformers import TextIteratorStreamer

    class Counting(TextIteratorStreamer):
        """Counts generated token ids and when the first one arrived (text pieces wait for word boundaries)."""

        generated = 0
        first_at: float | None = None

        def put(self, value: Any) -> None:
            if not (self.skip_prompt and self.next_tokens_are_prompt):
                self.generated += int(value.numel())
                self.first_at = self.first_at or time.perf_counter()
            super().put(value)

    return Counting


def _CountingStreamer(*args: Any, **kwargs: Any) -> Any:  # noqa: N802 - a lazily built class
    return _streamer_class()(*args, **kwargs)


START = "start"  # the adapter name of the weights a run started from


@contextlib.contextmanager
def _start_adapter(model: Any) -> Iterator[None]:
    model.set_adapter(START)
    try:
        yield
    finally:
        model.set_adapter("default")


def sides(cm: ChatModel) -> tuple[str, ...]:
    """What Compare answers with: the base, the weights the run started from (when it continued an adapter), the
    tuned weights."""
    return ("base", "start", "tuned") if cm.target.start is not None and cm.target.adapter else ("base", "tuned")


def _side(cm: ChatModel, side: str) -> tuple[Any, contextlib.AbstractContextManager[Any]]:
    """The module that generates and the context it generates in: the base side really runs without the tuning."""
    if side == "tuned":
        return cm.model, contextlib.nullcontext()
    if side == START and cm.target.start is not None and cm.target.adapter:
        return cm.model, _start_adapter(cm.model)
    if cm.target.adapter:
        return cm.model, cm.model.disable_adapter()
    if cm.target.original:
        if cm.original is None:
            cm.original = _load_model(cm.target.original, trust_remote_code=False)
        return cm.original, contextlib.nullcontext()
    raise StudioError("chat.compare_untuned")


def stream_reply(cm: ChatModel, messages: list[dict[str, str]], settings: GenSettings, system: str = "",
                 stats: ReplyStats | None = None, side: str = "tuned") -> Iterator[str]:
    """Yield the growing reply text as tokens arrive; `side="base"` generates without the adapter."""
    import torch

    settings.check()
    tok = cm.tokenizer
    conv = to_conversation(messages, system)
    if conv.images and cm.images is None:
        raise StudioError("chat.no_vision", model=cm.target.base)
    media = Media(Path("/"), cm.images.spec) if cm.images is not None else None  # paths vetted by the caller
    try:
        ids = Encoder(cm.template, tok, Options(cutoff_len=1 << 30), media).prompt_ids(conv)
    except ValueError as exc:
        raise StudioError("chat.bad_image", reason=str(exc)) from None
    stops = {eos_id(cm.template, tok), tok.eos_token_id, *map(tok.convert_tokens_to_ids, cm.template.stop_words)}
    stop_ids = sorted(i for i in stops if isinstance(i, int) and i != tok.unk_token_id)
    streamer = _CountingStreamer(tok, skip_prompt=True, skip_special_tokens=True, timeout=600)
    sample = settings.temperature > 0
    kwargs: dict[str, Any] = dict(max_new_tokens=settings.max_new_tokens, do_sample=sample, streamer=streamer,
                                  repetition_penalty=settings.repetition_penalty, eos_token_id=stop_ids or None,
                                  pad_token_id=tok.pad_token_id)
    if sample:
        kwargs |= {"temperature": settings.temperature, "top_p": settings.top_p, "top_k": settings.top_k}
    errors: list[BaseException] = []
    cm.lock.acquire()
    try:
        model, context = _side(cm, side)
    except BaseException:
        cm.lock.release()
        raise
    kwargs["input_ids"] = torch.tensor([ids], device=model.device)
    if cm.images is not None:
        rows = [{"images": list(conv.images), "image_grid_thw": None}]
        extra = cm.images(rows, kwargs["input_ids"].cpu()) if conv.images else {}
        kwargs |= {k: v.to(model.device) for k, v in extra.items()}

    def generate() -> None:
        try:
            with context, torch.inference_mode():
                torch.manual_seed(settings.seed)
                model.generate(**kwargs)
        except BaseException as err:  # surfaced to the reader below instead of dying silently in this thread
            errors.append(err)
            streamer.end()
        finally:
            cm.lock.release()

    started = time.perf_counter()
    thread = threading.Thread(target=generate, daemon=True)
    thread.start()
    text = ""
    for piece in streamer:
        if piece:  # the streamer yields empty strings while it waits for a word boundary
            text += piece
            yield text
    thread.join()  # the streamer ends inside generate(); a process exiting before it returns aborts in torch
    if errors:
        raise errors[0]
    if stats is not None:
        stats.total_s = time.perf_counter() - started
        stats.tokens = streamer.generated
        stats.first_token_s = (streamer.first_at or time.perf_counter()) - started
        # decode speed after the first token (the first one pays for the whole prompt)
        decode_s = stats.total_s - stats.first_token_s
        stats.tokens_per_s = (stats.tokens - 1) / decode_s if stats.tokens > 1 and decode_s > 0 else 0.0


def reply(cm: ChatModel, messages: list[dict[str, str]], settings: GenSettings, system: str = "",
          side: str = "tuned", stats: ReplyStats | None = None) -> str:
    """The whole reply at once (CLI, tests)."""
    parts = list(stream_reply(cm, messages, settings, system, stats, side))
    return parts[-1] if parts else ""


_held: dict[str, ChatModel] = {}
_held_lock = threading.Lock()


def get_or_load(target: ChatTarget, say: Say | None = None) -> ChatModel:
    """Hold one model: loading another frees the previous one first (two would double the memory)."""
    with _held_lock:
        cm = _held.get("model")
        if cm is not None and cm.target == target:
            return cm
        _free()
        _held["model"] = load(target, say)
        return _held["model"]


def current() -> ChatModel | None:
    return _held.get("model")


def _free() -> bool:
    cm = _held.pop("model", None)
    if cm is None:
        return False
    with cm.lock:  # a reply still streaming finishes first
        cm.model = cm.original = None
    del cm
    gc.collect()
    try:
        import torch

        if torch.cuda.is_available():
            torch.cuda.empty_cache()
    except ImportError:
        pass
    return True


def unload() -> bool:
    """Free the held model; False when nothing was loaded."""
    with _held_lock:
        return _free()
