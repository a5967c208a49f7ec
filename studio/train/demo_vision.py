"""The vision demo: coloured shapes with bilingual questions, and a tiny Qwen2-VL made and warmed up locally.

The warm-up is the vision model's "pre-training": the language model learns chat text, and the whole model
learns to see, by answering which palette entry (1-6) a shape's colour is. It never hears a colour named
for an image, so the base model cannot answer "What colour is the shape?"; the demo preset's short LoRA
run teaches exactly that (images really flow in: given a blank picture, the tuned model cannot either).
"""

from __future__ import annotations

import json
import os
import random
import shutil
import tempfile
import time
from pathlib import Path

from studio.core.workspace import DEMO_VISION_MODEL, Workspace
from studio.data.conversation import Conversation, Turn
from studio.data.registry import load_registry, register
from studio.train.demo import SEED, _progress_writer, _train_tokenizer, fit, warmup_conversations

DEMO_VISION_DATASET = "demo_colors"
DEMO_VISION_FILE = "demo_colors.json"
IMAGE_FOLDER = "demo_colors"
ROWS = 240
SIZE = 84  # 6×6 patches of 14 px: 9 image tokens after the 2×2 merge
VISION_SPECIALS = ["<|endoftext|>", "<|im_start|>", "<|im_end|>", "<|vision_start|>", "<|vision_end|>",
                   "<|image_pad|>", "<|video_pad|>"]
# (name, RGB, Chinese name), in palette order: the warm-up's "entry N" is the N-th colour
COLORS = [("red", (220, 30, 30), "红色"), ("green", (30, 170, 40), "绿色"), ("blue", (30, 60, 220), "蓝色"),
          ("yellow", (240, 210, 20), "黄色"), ("purple", (140, 40, 170), "紫色"), ("orange", (250, 130, 10), "橙色")]
QUESTIONS = [("What colour is the shape?", "It is {en}."), ("What color is this shape?", "It is {en}."),
             ("这个图形是什么颜色？", "它是{zh}的。")]
NEUTRAL = [("Describe the picture.", "A shape on a plain background."), ("这张图片里有什么？", "纯色背景上的一个图形。")]
PALETTE_Q = "Which palette entry is the shape?"
QWEN2_VL_JINJA = (
    "{% for message in messages %}{% if loop.first and message['role'] != 'system' %}"
    "<|im_start|>system\nYou are a helpful assistant.<|im_end|>\n{% endif %}"
    "<|im_start|>{{ message['role'] }}\n{% if message['content'] is string %}{{ message['content'] }}"
    "{% else %}{% for part in message['content'] %}"
    "{% if part['type'] == 'image' or 'image' in part or 'image_url' in part %}"
    "<|vision_start|><|image_pad|><|vision_end|>{% elif 'text' in part %}{{ part['text'] }}{% endif %}"
    "{% endfor %}{% endif %}<|im_end|>\n{% endfor %}"
    "{% if add_generation_prompt %}<|im_start|>assistant\n{% endif %}"
)


def shape_image(rng: random.Random, rgb: tuple[int, int, int], size: int = SIZE):  # -> PIL.Image
    """A square, circle or triangle of (about) `rgb` on a light grey background, at a random place and size."""
    from PIL import Image, ImageDraw

    grey = rng.randint(215, 255)
    img = Image.new("RGB", (size, size), (grey, grey, grey))
    draw = ImageDraw.Draw(img)
    side = rng.randint(size // 2, size - 8)
    x, y = rng.randint(0, size - side), rng.randint(0, size - side)
    fill = tuple(max(0, min(255, v + rng.randint(-20, 20))) for v in rgb)
    kind = rng.choice(("square", "circle", "triangle"))
    if kind == "square":
        draw.rectangle([x, y, x + side, y + side], fill=fill)
    elif kind == "circle":
        draw.ellipse([x, y, x + side, y + side], fill=fill)
    else:
        draw.polygon([(x, y + side), (x + side, y + side), (x + side // 2, y)], fill=fill)
    return img


def colour_rows(folder: Path, prefix: str, count: int, seed: int) -> list[dict]:
    """`count` mllm_demo-style rows (messages + images) with their pictures written into `folder`."""
    rng = random.Random(seed)
    folder.mkdir(parents=True, exist_ok=True)
    rows = []
    for i in range(count):
        en, rgb, zh = COLORS[i % len(COLORS)]
        question, answer = QUESTIONS[(i // len(COLORS)) % len(QUESTIONS)]
        name = f"{i:04d}.png"
        shape_image(rng, rgb).save(folder / name)
        rows.append({"messages": [{"role": "user", "content": "<image>" + question},
                                  {"role": "assistant", "content": answer.format(en=en, zh=zh)}],
                     "images": [f"{prefix}/{name}"], "colour": en})
    return rows


def ensure_vision_dataset(ws: Workspace) -> None:
    """Write the demo's images and rows into data/ and register them, unless already there."""
    target = ws.data_dir / DEMO_VISION_FILE
    if not target.exists():
        rows = colour_rows(ws.data_dir / IMAGE_FOLDER, IMAGE_FOLDER, ROWS, SEED)
        tmp = target.with_name(target.name + ".tmp")
        tmp.write_text(json.dumps([{k: r[k] for k in ("messages", "images")} for r in rows], ensure_ascii=False,
                                  indent=1), encoding="utf-8")
        os.replace(tmp, target)
    if DEMO_VISION_DATASET not in load_registry(ws.registry_file):
        register(ws.registry_file, DEMO_VISION_DATASET, {
            "file_name": DEMO_VISION_FILE, "formatting": "sharegpt",
            "columns": {"messages": "messages", "images": "images"},
            "tags": {"role_tag": "role", "content_tag": "content", "user_tag": "user", "assistant_tag": "assistant"}})


def vision_model_dir(ws: Workspace) -> Path:
    return ws.root / DEMO_VISION_MODEL


def vision_model_ready(ws: Workspace) -> bool:
    return (vision_model_dir(ws) / "model.safetensors").exists()


def _warm_rows(rng: random.Random, folder: Path, text_rows: int, image_rows: int) -> list[Conversation]:
    """Chat text, plus pictures asked about neutrally (1 in 3) or by palette entry (2 in 3)."""
    convs = warmup_conversations(rng, text_rows, [q.format(en=c[0], zh=c[2]) for c in COLORS
                                                  for _, q in QUESTIONS])
    for i in range(image_rows):
        k = rng.randrange(len(COLORS))
        name = f"w{i:05d}.png"
        shape_image(rng, COLORS[k][1]).save(folder / name)
        question, answer = rng.choice(NEUTRAL) if i % 3 == 0 else (PALETTE_Q, f"Entry {k + 1}.")
        convs.append(Conversation(turns=(Turn("user", "<image>" + question), Turn("assistant", answer)),
                                  images=(name,)))
    rng.shuffle(convs)
    return convs


def create_vision_model(target: Path, warmup_steps: int = 400, progress: Path | None = None) -> dict[str, float]:
    """Tokenizer, image processor and a warmed-up tiny Qwen2-VL, saved (safetensors) into `target` whole."""
    import torch
    from transformers import GenerationConfig, Qwen2VLConfig, Qwen2VLForConditionalGeneration
    from transformers.models.qwen2_vl.image_processing_pil_qwen2_vl import Qwen2VLImageProcessorPil

    from studio.encode.encoder import Encoded, Encoder, Media, Options
    from studio.model.vision import IMAGE_PAD, ImageSpec
    from studio.templates.named import get_template
    from studio.train.trainer import Collator, ImageInputs

    started = time.perf_counter()
    report = _progress_writer(progress)
    report("tokenizer", 0, warmup_steps)
    torch.manual_seed(SEED)
    rng = random.Random(SEED)
    scratch = Path(tempfile.mkdtemp(prefix="demo-vision-"))
    try:
        convs = _warm_rows(rng, scratch, 2000, 3000)
        texts = [t.content.replace("<image>", "") for c in convs for t in c.turns]
        tokenizer = _train_tokenizer(texts, VISION_SPECIALS, QWEN2_VL_JINJA)
        processor = Qwen2VLImageProcessorPil()
        ids = dict(zip(VISION_SPECIALS, tokenizer.convert_tokens_to_ids(VISION_SPECIALS), strict=True))
        config = Qwen2VLConfig(
            text_config=dict(vocab_size=len(tokenizer), hidden_size=128, intermediate_size=384, num_hidden_layers=2,
                             num_attention_heads=4, num_key_value_heads=2, max_position_embeddings=2048,
                             rope_parameters={"rope_type": "default", "rope_theta": 10000.0,
                                              "mrope_section": [4, 6, 6]},
                             bos_token_id=None, eos_token_id=ids["<|im_end|>"], pad_token_id=ids["<|endoftext|>"]),
            vision_config=dict(depth=2, embed_dim=64, hidden_size=128, num_heads=4, mlp_ratio=2),
            image_token_id=ids[IMAGE_PAD], video_token_id=ids["<|video_pad|>"],
            vision_start_token_id=ids["<|vision_start|>"], vision_end_token_id=ids["<|vision_end|>"],
            tie_word_embeddings=True)
        model = Qwen2VLForConditionalGeneration(config)
        spec = ImageSpec()
        encoder = Encoder(get_template("qwen2_vl"), tokenizer, Options(cutoff_len=256), Media(scratch, spec))
        rows = [{"input_ids": e.input_ids, "labels": e.labels, "images": list(e.images),
                 "image_grid_thw": [list(g) for g in e.grids]}
                for e in encoder.encode_many(convs) if isinstance(e, Encoded)]
        collate = Collator(ids["<|endoftext|>"], ImageInputs(processor, spec, ids[IMAGE_PAD]))
        report("warmup", 0, warmup_steps)
        # answers only (the encoder's labels): the pictures' entries need the answer loss, not the prompt's
        losses = fit(model, rows, collate, warmup_steps, 16, 2e-3, report)
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    report("save", warmup_steps, warmup_steps)
    tmp = target.with_name(f".{target.name}.{os.getpid()}.tmp")
    shutil.rmtree(tmp, ignore_errors=True)
    model.generation_config = GenerationConfig(eos_token_id=ids["<|im_end|>"], pad_token_id=ids["<|endoftext|>"],
                                               do_sample=False)
    model.save_pretrained(tmp, safe_serialization=True)
    tokenizer.save_pretrained(tmp)
    processor.save_pretrained(tmp)
    shutil.rmtree(target, ignore_errors=True)
    target.parent.mkdir(parents=True, exist_ok=True)
    os.replace(tmp, target)
    return {"seconds": time.perf_counter() - started, "first_loss": losses[0], "last_loss": losses[-1]}


def ensure_vision_demo(ws: Workspace) -> bool:
    """Create whatever of the vision demo is missing; True when the model had to be built."""
    ensure_vision_dataset(ws)
    if vision_model_ready(ws):
        return False
    create_vision_model(vision_model_dir(ws), progress=ws.cache_dir / "demo-vision-progress.json")
    (ws.cache_dir / "demo-vision-progress.json").unlink(missing_ok=True)
    return True
