"""Build the tiny Qwen2-VL-style fixtures: tests/fixtures/vl_processor/ and tests/fixtures/vl_images/.

Run with the project's own Python (no torchvision needed):
    python bench/make_vl_fixture.py

The output is deterministic: the tokenizer is a byte-level BPE trained on generated sentences about coloured shapes,
the image processor is transformers' PIL Qwen2-VL image processor with its defaults, the images are plain PNGs.
tests/fixtures/lf_golden_vl.json is made from these by bench/lf_golden_vl.py in a LLaMA-Factory venv.
"""

import itertools
import json
from pathlib import Path

from PIL import Image, ImageDraw
from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
from transformers import PreTrainedTokenizerFast
from transformers.models.qwen2_vl.image_processing_pil_qwen2_vl import Qwen2VLImageProcessorPil

FIXTURES = Path(__file__).resolve().parent.parent / "tests" / "fixtures"
SPECIAL_TOKENS = ["<|endoftext|>", "<|im_start|>", "<|im_end|>", "<|vision_start|>", "<|vision_end|>",
                  "<|image_pad|>", "<|video_pad|>"]

COLOURS = ["red", "blue", "green", "yellow", "white", "black", "orange", "purple"]
SHAPES = ["square", "circle", "triangle", "rectangle", "line", "dot"]
SIZES = ["small", "big", "tiny", "thin", "wide", "tall"]
ZH_COLOURS = ["红色", "蓝色", "绿色", "黄色", "白色", "黑色"]
ZH_SHAPES = ["正方形", "圆形", "三角形", "长方形", "线条", "点"]


def corpus() -> list[str]:
    lines = []
    for colour, shape, size in itertools.product(COLOURS, SHAPES, SIZES):
        lines.append(f"The picture shows a {size} {colour} {shape}.")
    for colour, shape in itertools.product(COLOURS, SHAPES):
        lines.append(f"What colour is the {shape}? It is {colour}.")
        lines.append(f"Describe the image. A {colour} {shape} on a plain background.")
        lines.append(f"Compare the two images: one has a {shape}, the other is {colour}.")
    for colour, shape in itertools.product(ZH_COLOURS, ZH_SHAPES):
        lines.append(f"图片里有一个{colour}的{shape}。")
        lines.append(f"这是什么形状？这是一个{shape}，颜色是{colour}。")
        lines.append(f"请描述这张图片：背景上有{colour}{shape}。")
    lines += ["You are a helpful assistant.", "You are a careful assistant who describes pictures.",
              "How many shapes are there? There are two.", "Which image is bigger? The first one.",
              "What is in this image?", "Look at the picture and answer.", "这两张图片有什么不同？",
              "你好，请看这张图片。", "谢谢！", "Thanks, and this one?"]
    return lines


def make_tokenizer(out: Path) -> None:
    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(vocab_size=1024, special_tokens=SPECIAL_TOKENS,
                                  initial_alphabet=pre_tokenizers.ByteLevel.alphabet(), show_progress=False)
    tok.train_from_iterator(corpus(), trainer=trainer)
    fast = PreTrainedTokenizerFast(tokenizer_object=tok, eos_token="<|im_end|>", pad_token="<|endoftext|>")
    fast.save_pretrained(out)


def make_processor(out: Path) -> None:
    Qwen2VLImageProcessorPil().save_pretrained(out)
    # AutoConfig / AutoProcessor resolve the model type (Qwen2VLProcessor) from config.json.
    config = {"model_type": "qwen2_vl", "architectures": ["Qwen2VLForConditionalGeneration"]}
    (out / "config.json").write_text(json.dumps(config, indent=2) + "\n", encoding="utf-8")


def make_images(out: Path) -> None:
    out.mkdir(parents=True, exist_ok=True)
    Image.new("RGB", (60, 40), (220, 30, 30)).save(out / "red_square_60x40.png", optimize=True)
    img = Image.new("RGB", (300, 200), (255, 255, 255))
    ImageDraw.Draw(img).ellipse((75, 25, 225, 175), fill=(30, 60, 220))
    img.save(out / "blue_circle_300x200.png", optimize=True)
    img = Image.new("RGB", (900, 1000), (40, 180, 60))
    ImageDraw.Draw(img).rectangle((0, 0, 449, 499), fill=(200, 240, 200))
    img.save(out / "green_900x1000.png", optimize=True)
    img = Image.new("RGB", (20, 300), (250, 200, 0))
    ImageDraw.Draw(img).rectangle((0, 150, 19, 299), fill=(120, 60, 0))
    img.save(out / "thin_20x300.png", optimize=True)
    Image.new("RGBA", (10, 10), (128, 0, 128, 255)).save(out / "tiny_10x10.png", optimize=True)  # RGBA: LF converts


def main() -> None:
    proc_dir = FIXTURES / "vl_processor"
    proc_dir.mkdir(parents=True, exist_ok=True)
    make_tokenizer(proc_dir)
    make_processor(proc_dir)
    make_images(FIXTURES / "vl_images")


if __name__ == "__main__":
    main()
