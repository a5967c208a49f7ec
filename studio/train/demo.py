"""The embedded default: a bilingual identity dataset and a tiny warmed-up Llama-style model, made locally."""

from __future__ import annotations

import json
import os
import random
import shutil
import threading
import time
from collections.abc import Callable
from pathlib import Path

from studio.core.workspace import DEMO_MODEL, REPO_ROOT, Workspace
from studio.data.conversation import Conversation, Turn
from studio.data.registry import load_registry, register
from studio.templates.named import CHATML_JINJA, get_template
from studio.train.demo_preference import COLORS as _COLORS
from studio.train.demo_preference import WORDS as _WORDS
from studio.train.demo_preference import ensure_preference_datasets

DEMO_DATASET = "demo_identity"
DEMO_FILE = "demo_identity.json"
SPECIALS = ["<|endoftext|>", "<|im_start|>", "<|im_end|>"]
SEED = 1234
ECHO_SHARE = 0.1  # share of warm-up rows that echo demo answers: enough to read them, not to pair them
_lock = threading.Lock()



def ensure_dataset(ws: Workspace) -> None:
    """Copy the demo rows into the workspace and register them, unless already there."""
    target = ws.data_dir / DEMO_FILE
    if not target.exists():
        shutil.copyfile(REPO_ROOT / "assets" / "demo" / "identity.json", target)
    if DEMO_DATASET not in load_registry(ws.registry_file):
        register(ws.registry_file, DEMO_DATASET, {"file_name": DEMO_FILE, "formatting": "alpaca"})
    ensure_preference_datasets(ws)


def demo_model_dir(ws: Workspace) -> Path:
    return ws.root / DEMO_MODEL


def demo_model_ready(ws: Workspace) -> bool:
    return (demo_model_dir(ws) / "model.safetensors").exists()


def progress_file(ws: Workspace) -> Path:
    return ws.cache_dir / "demo-progress.json"


def demo_progress(ws: Workspace) -> dict | None:
    """How far the demo build is ({"stage", "step", "total"}), as the building process last wrote it."""
    try:
        return json.loads(progress_file(ws).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None


def _progress_writer(path: Path | None) -> Callable[[str, int, int], None]:
    def write(stage: str, step: int, total: int) -> None:
        if path is None:
            return
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(path.name + ".tmp")
        tmp.write_text(json.dumps({"stage": stage, "step": step, "total": total}), encoding="utf-8")
        os.replace(tmp, path)
    return write


def warmup_conversations(rng: random.Random, count: int, sentences: list[str]) -> list[Conversation]:
    """Generic bilingual Q&A (arithmetic, words, colours, echo): teaches the chat format, not the identity.

    The echo task also repeats `sentences` (the demo's answers, without their questions), as a real base
    model has read its language before: LoRA then only has to learn which answer fits which question.
    """
    def one() -> tuple[str, str]:
        kind = 5 if rng.random() < ECHO_SHARE else rng.randrange(5)
        a, b = rng.randrange(20), rng.randrange(20)
        en_word, zh_word = rng.choice(_WORDS)
        thing, color, zh_thing, zh_color = rng.choice(_COLORS)
        return [
            (f"What is {a} plus {b}?", f"{a} plus {b} is {a + b}.") if rng.random() < 0.5
            else (f"{a} 加 {b} 等于多少？", f"{a} 加 {b} 等于 {a + b}。"),
            (f"How do you say '{en_word}' in Chinese?", f"'{en_word}' in Chinese is {zh_word}.") if rng.random() < 0.5
            else (f"“{zh_word}”用英文怎么说？", f"“{zh_word}”的英文是 {en_word}。"),
            (f"What color is the {thing}?", f"The {thing} is {color}.") if rng.random() < 0.5
            else (f"{zh_thing}是什么颜色的？", f"{zh_thing}是{zh_color}。"),
            (f"Repeat after me: {en_word} {zh_word}", f"{en_word} {zh_word}"),
            (f"Count from {a % 5} to {a % 5 + 3}.", " ".join(str(n) for n in range(a % 5, a % 5 + 4))),
            (f"Repeat after me: {(said := rng.choice(sentences))}", said),
        ][kind]

    return [Conversation(turns=(Turn("user", q), Turn("assistant", r))) for q, r in (one() for _ in range(count))]


def _train_tokenizer(texts: list[str], specials: list[str] = SPECIALS,
                     chat_template: str = CHATML_JINJA):  # -> PreTrainedTokenizerFast
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import PreTrainedTokenizerFast

    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(vocab_size=2048, special_tokens=specials, show_progress=False,
                                  initial_alphabet=pre_tokenizers.ByteLevel.alphabet())
    tok.train_from_iterator(texts, trainer)
    fast = PreTrainedTokenizerFast(tokenizer_object=tok, eos_token="<|im_end|>", pad_token="<|endoftext|>")
    fast.chat_template = chat_template
    return fast


def _warm_up(model, tokenizer, convs: list[Conversation], steps: int, batch_size: int,
             report: Callable[[str, int, int], None]) -> list[float]:
    """Full-parameter pre-training on generic chat text, so a later LoRA has something to steer."""
    import torch

    from studio.encode.encoder import Encoded, Encoder, Options, pad_batch

    results = Encoder(get_template("chatml"), tokenizer, Options(cutoff_len=128)).encode_many(convs)
    rows = [e for e in results if isinstance(e, Encoded)]
    # Train on every token (not only answers): the base model should know the whole chat format.
    rows = [{"input_ids": e.input_ids, "labels": e.input_ids} for e in rows]

    def collate(chunk: list[dict]) -> dict:
        batch = {k: torch.tensor(v) for k, v in pad_batch(chunk, tokenizer.pad_token_id).items()}
        batch["labels"] = batch["labels"].masked_fill(batch["attention_mask"] == 0, -100)
        return batch

    return fit(model, rows, collate, steps, batch_size, 3e-3, report)


def fit(model, rows: list[dict], collate: Callable[[list[dict]], dict], steps: int, batch_size: int,  # noqa: ANN001
        lr: float, report: Callable[[str, int, int], None]) -> list[float]:
    """The demos' warm-up loop: full-parameter AdamW with a one-cycle schedule over `rows`, in order, wrapping."""
    import torch

    optim = torch.optim.AdamW(model.parameters(), lr=lr, weight_decay=0.0)
    sched = torch.optim.lr_scheduler.OneCycleLR(optim, max_lr=lr, total_steps=steps, pct_start=0.1)
    losses = []
    model.train()
    for step in range(steps):
        chunk = rows[(step * batch_size) % len(rows):][:batch_size]
        loss = model(**collate(chunk)).loss
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        optim.step()
        sched.step()
        optim.zero_grad()
        losses.append(loss.item())
        if step % 5 == 4 or step == steps - 1:
            report("warmup", step + 1, steps)
    model.eval()
    return losses


def create_model(target: Path, warmup_steps: int = 200, progress: Path | None = None) -> dict[str, float]:
    """Build tokenizer + model deterministically and save them (safetensors) into `target`; each stage and
    warm-up step is written to `progress` (the page's progress bar reads it)."""
    import torch
    from transformers import GenerationConfig, LlamaConfig, LlamaForCausalLM

    started = time.perf_counter()
    report = _progress_writer(progress)
    report("tokenizer", 0, warmup_steps)
    torch.manual_seed(SEED)
    rng = random.Random(SEED)
    identity = json.loads((REPO_ROOT / "assets" / "demo" / "identity.json").read_text(encoding="utf-8"))
    answers = sorted({r["output"] for r in identity})
    convs = warmup_conversations(rng, 4000, answers)
    texts = [t.content for c in convs for t in c.turns] + [r["instruction"] + " " + r["output"] for r in identity]
    tokenizer = _train_tokenizer(texts)
    im_end, pad = tokenizer.convert_tokens_to_ids(["<|im_end|>", "<|endoftext|>"])
    config = LlamaConfig(
        vocab_size=len(tokenizer), hidden_size=128, intermediate_size=384, num_hidden_layers=2,
        num_attention_heads=4, num_key_value_heads=2, max_position_embeddings=1024,
        tie_word_embeddings=True, bos_token_id=None, eos_token_id=im_end, pad_token_id=pad,
    )
    model = LlamaForCausalLM(config)
    report("warmup", 0, warmup_steps)
    losses = _warm_up(model, tokenizer, convs, steps=warmup_steps, batch_size=16, report=report)
    report("save", warmup_steps, warmup_steps)
    tmp = target.with_name(f".{target.name}.{os.getpid()}.tmp")
    shutil.rmtree(tmp, ignore_errors=True)
    model.generation_config = GenerationConfig(eos_token_id=im_end, pad_token_id=pad, do_sample=False)
    model.save_pretrained(tmp, safe_serialization=True)
    tokenizer.save_pretrained(tmp)
    shutil.rmtree(target, ignore_errors=True)
    os.replace(tmp, target)  # the folder appears whole or not at all
    return {"seconds": time.perf_counter() - started, "first_loss": losses[0], "last_loss": losses[-1]}


def ensure_demo(ws: Workspace) -> bool:
    """Create whatever of the demo is missing; True when the model had to be built."""
    ensure_dataset(ws)
    with _lock:
        if demo_model_ready(ws):
            return False
        create_model(demo_model_dir(ws), progress=progress_file(ws))
        progress_file(ws).unlink(missing_ok=True)
        return True
