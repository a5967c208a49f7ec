"""Image rows encode as LLaMA-Factory 0.9.5's qwen2_vl template and plugin do (golden file made by it), and
unusable images are dropped with the file and the reason."""

from __future__ import annotations

import json
import struct
import zlib
from pathlib import Path

import pytest

from studio.data.conversation import Conversation, Turn
from studio.encode.encoder import Dropped, Encoded, Encoder, Media, Options
from studio.model.info import load_tokenizer
from studio.model.vision import ImageSpec, load_image, load_image_processor, pixel_inputs
from studio.templates.named import get_template

FIXTURES = Path(__file__).parents[2] / "fixtures"
PROCESSOR = FIXTURES / "vl_processor"
IMAGES = FIXTURES / "vl_images"
GOLDEN = json.loads((FIXTURES / "lf_golden_vl.json").read_text(encoding="utf-8"))
CASES = {c["case"]: c for c in json.loads((FIXTURES / "vl_cases.json").read_text(encoding="utf-8"))}


def conversation(case: dict) -> Conversation:
    turns = tuple(Turn(m["role"], m["content"]) for m in case["messages"])
    return Conversation(turns=turns, system=case["system"], images=tuple(case["images"]))


def encoder(max_pixels: int = 768 * 768, min_pixels: int = 32 * 32, cutoff: int = 100_000,
            mask_history: bool = False, root: Path = IMAGES) -> Encoder:
    options = Options(cutoff, mask_history=mask_history, image_max_pixels=max_pixels, image_min_pixels=min_pixels)
    tok = load_tokenizer(PROCESSOR)
    return Encoder(get_template("qwen2_vl"), tok, options, Media.of(root, PROCESSOR, options))


@pytest.mark.parametrize("row", GOLDEN, ids=lambda r: f"{r['case']}-{r['image_max_pixels']}-{r['mask_history']}")
def test_ids_labels_and_grids_equal_llamafactory(row: dict) -> None:
    enc = encoder(row["image_max_pixels"], row["image_min_pixels"], mask_history=row["mask_history"])
    result = enc.encode(conversation(CASES[row["case"]]))
    assert isinstance(result, Encoded)
    assert result.input_ids == row["input_ids"]
    assert result.labels == row["labels"]
    assert [list(g) for g in result.grids] == row["image_grid_thw"]
    assert [Path(p).name for p in result.images] == CASES[row["case"]]["images"]


@pytest.mark.parametrize("row", [r for r in GOLDEN if not r["mask_history"]], ids=lambda r: f"{r['case']}-"
                         f"{r['image_max_pixels']}")
def test_pixels_equal_llamafactory(row: dict) -> None:
    """Resized as LLaMA-Factory resizes (same sizes), then the processor: the same pixels up to its backend's
    rounding (LLaMA-Factory's venv uses the torchvision processor, ours the PIL one: one uint8 step at most)."""
    spec = ImageSpec.of(PROCESSOR, row["image_max_pixels"], row["image_min_pixels"])
    images = [load_image(IMAGES / name, spec) for name in CASES[row["case"]]["images"]]
    assert [list(img.size) for img in images] == row["image_sizes"]
    out = pixel_inputs(load_image_processor(PROCESSOR), images)
    assert list(out["pixel_values"].shape) == row["pixel_values_shape"]
    assert out["image_grid_thw"].tolist() == row["image_grid_thw"]
    total = float(out["pixel_values"].double().sum())
    assert abs(total - row["pixel_values_sum"]) <= 1e-5 * out["pixel_values"].numel() + 1e-3


def test_expansion_is_one_run_per_image() -> None:
    result = encoder().encode(conversation(CASES["two_images_one_turn"]))
    assert isinstance(result, Encoded)
    tok = load_tokenizer(PROCESSOR)
    pad, start = tok.convert_tokens_to_ids(["<|image_pad|>", "<|vision_start|>"])
    assert result.input_ids.count(start) == 2
    assert result.input_ids.count(pad) == sum(t * h * w // 4 for t, h, w in result.grids)
    assert all(label == -100 for i, label in zip(result.input_ids, result.labels, strict=True) if i == pad)


def _png_header(path: Path, width: int, height: int) -> None:
    """A PNG whose header claims width × height (its pixels are never decoded)."""
    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    chunk = b"IHDR" + ihdr
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + struct.pack(">I", len(ihdr)) + chunk
                     + struct.pack(">I", zlib.crc32(chunk)) + b"\x00\x00\x00\x00IEND\xaeB`\x82")


def _row(*images: str, text: str = "<image>What colour?") -> Conversation:
    return Conversation(turns=(Turn("user", text), Turn("assistant", "Red.")), images=images)


@pytest.mark.bad_input
@pytest.mark.parametrize(("make", "images", "said"), [
    (lambda d: None, ("gone.png",), "gone.png: no such file"),
    (lambda d: (d / "notes.png").write_text("not a picture"), ("notes.png",), "notes.png: not an image"),
    (lambda d: _png_header(d / "huge.png", 20000, 20000), ("huge.png",), "huge.png: larger than 178,956,970 pixels"),
    (lambda d: None, ("../outside.png",), "outside the data folder"),
])
def test_unusable_image_is_dropped_with_file_and_reason(tmp_path: Path, make, images, said) -> None:  # noqa: ANN001
    make(tmp_path)
    (tmp_path.parent / "outside.png").write_bytes((IMAGES / "red_square_60x40.png").read_bytes())
    result = encoder(root=tmp_path).encode(_row(*images))
    assert isinstance(result, Dropped) and result.reason == "encode.image_bad"
    assert said in result.text("en") and result.text("zh").startswith("图片")


@pytest.mark.bad_input
def test_more_placeholders_than_images_is_dropped() -> None:
    result = encoder().encode(_row("red_square_60x40.png", text="<image><image>Two?"))
    assert isinstance(result, Dropped) and "different number of <image>" in result.text()


@pytest.mark.bad_input
def test_video_row_is_refused_with_a_sentence() -> None:
    conv = Conversation(turns=(Turn("user", "<video>What happens?"), Turn("assistant", "A cat.")), videos=("a.mp4",))
    result = encoder().encode(conv)
    assert isinstance(result, Dropped) and "only images can be trained" in result.text()


@pytest.mark.bad_input
def test_image_tokens_are_never_cut() -> None:
    """A row longer than cutoff_len with an image is refused whole, not cut through its image-pad run."""
    result = encoder(cutoff=40).encode(conversation(CASES["single_start"]))
    assert isinstance(result, Dropped) and result.reason == "encode.image_cut"
    assert "never cut" in result.text()


def test_text_only_row_in_an_image_dataset_trains_as_text() -> None:
    result = encoder().encode(Conversation(turns=(Turn("user", "Hi"), Turn("assistant", "Hello."))))
    assert isinstance(result, Encoded) and not result.images


@pytest.mark.bad_input
def test_a_20000_pixel_jpeg_is_resized_without_being_decoded_whole(tmp_path: Path) -> None:
    """Over PIL's decompression-bomb limit (kept on): a JPEG is decoded at 1/8 scale, then resized like any
    other; its row encodes. (A PNG that large is refused: tested above.)"""
    import subprocess
    import sys

    huge = tmp_path / "huge.jpg"
    subprocess.run([sys.executable, "-c", "import sys; from PIL import Image; "
                    "Image.new('L', (20000, 20000), 90).save(sys.argv[1], quality=50)", str(huge)], check=True)
    # VmHWM, not ru_maxrss: the latter keeps the parent's peak across fork + exec
    probe = ("import re, sys; from studio.model.vision import ImageSpec, load_image; "
             "img = load_image(sys.argv[1], ImageSpec()); "
             "hwm = re.search(r'VmHWM:\\s+(\\d+)', open('/proc/self/status').read()).group(1); "
             "print(img.size, img.mode, int(hwm) // 1024)")
    out = subprocess.run([sys.executable, "-c", probe, str(huge)], check=True, capture_output=True, text=True,
                         cwd=Path(__file__).parents[3]).stdout.split()
    assert " ".join(out[:3]) == "(767, 767) RGB"  # LLaMA-Factory's max pixels (768², its int() truncation)
    assert int(out[3]) < 250, f"peak {out[3]} MiB: the picture was decoded whole (400 MiB grey, 1.2 GiB RGB)"
    result = encoder(root=tmp_path).encode(_row("huge.jpg"))
    assert isinstance(result, Encoded) and result.grids == ((1, 54, 54),)
