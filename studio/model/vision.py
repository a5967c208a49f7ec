"""Images for a vision-language model (Qwen2-VL family): sizes, token counts, decoding, the processor call.

An image is first resized as LLaMA-Factory's qwen2_vl plugin does (down to image_max_pixels, up to
image_min_pixels, each side at least 28, aspect ratio at most 200), then the image processor's own
`smart_resize` rounds it to multiples of patch × merge. Its grid (t, h, w) in patches gives the number of
`<|image_pad|>` tokens: t·h·w / merge². The grid comes from the file's header alone (no pixels decoded),
so a dataset is encoded without holding its images; they are decoded batch by batch in the collator.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from studio.model.info import VISION_TYPES, model_config

VISION_START, VISION_END, IMAGE_PAD = "<|vision_start|>", "<|vision_end|>", "<|image_pad|>"
MAX_IMAGE_PIXELS = 178_956_970  # PIL's decompression-bomb limit (twice its warning size), kept as it is
DRAFT_SCALE = 8  # a JPEG over that limit is decoded at up to 1/8 scale per side
MIN_SIDE, MAX_RATIO = 28, 200


class BadImage(ValueError):
    """A file that cannot be used as an image: missing, not an image, or beyond the pixel limit."""


@dataclass(frozen=True)
class ImageSpec:
    """What decides an image's size and token count: the run's limits and the processor's settings."""
    max_pixels: int = 768 * 768  # LLaMA-Factory's image_max_pixels default
    min_pixels: int = 32 * 32  # LLaMA-Factory's image_min_pixels default
    patch: int = 14
    merge: int = 2
    temporal: int = 2
    proc_min: int = 56 * 56
    proc_max: int = 28 * 28 * 1280

    @classmethod
    def of(cls, model_dir: Path | str, max_pixels: int, min_pixels: int) -> ImageSpec:
        """The spec for a model folder's preprocessor_config.json and a run's pixel limits."""
        try:
            data = json.loads((Path(model_dir) / "preprocessor_config.json").read_text(encoding="utf-8"))
        except (OSError, ValueError):
            data = {}
        size = data.get("size") or {}
        default = cls()
        return cls(max_pixels, min_pixels, int(data.get("patch_size", default.patch)),
                   int(data.get("merge_size", default.merge)), int(data.get("temporal_patch_size", default.temporal)),
                   int(size.get("shortest_edge", data.get("min_pixels", default.proc_min))),
                   int(size.get("longest_edge", data.get("max_pixels", default.proc_max))))

    def pre_size(self, width: int, height: int) -> tuple[int, int]:
        """LLaMA-Factory's own resize before the processor (the same truncations, so the same sizes)."""
        if width * height > self.max_pixels:
            factor = math.sqrt(self.max_pixels / (width * height))
            width, height = int(width * factor), int(height * factor)
        if width * height < self.min_pixels:
            factor = math.sqrt(self.min_pixels / (width * height))
            width, height = int(width * factor), int(height * factor)
        if min(width, height) < MIN_SIDE:
            width, height = max(width, MIN_SIDE), max(height, MIN_SIDE)
        if width / height > MAX_RATIO:
            width = height * 180
        if height / width > MAX_RATIO:
            height = width * 180
        return width, height

    def final_size(self, width: int, height: int) -> tuple[int, int]:
        """The processor's smart_resize: sides rounded to the factor, pixels kept within its limits."""
        factor = self.patch * self.merge
        h = max(factor, round(height / factor) * factor)
        w = max(factor, round(width / factor) * factor)
        if h * w > self.proc_max:
            beta = math.sqrt(height * width / self.proc_max)
            h = max(factor, math.floor(height / beta / factor) * factor)
            w = max(factor, math.floor(width / beta / factor) * factor)
        elif h * w < self.proc_min:
            beta = math.sqrt(self.proc_min / (height * width))
            h = math.ceil(height * beta / factor) * factor
            w = math.ceil(width * beta / factor) * factor
        return w, h

    def grid(self, width: int, height: int) -> tuple[int, int, int]:
        w, h = self.final_size(*self.pre_size(width, height))
        return 1, h // self.patch, w // self.patch

    def tokens(self, grid: tuple[int, int, int]) -> int:
        return grid[0] * grid[1] * grid[2] // (self.merge * self.merge)

    def expansion(self, grid: tuple[int, int, int]) -> str:
        return VISION_START + IMAGE_PAD * self.tokens(grid) + VISION_END


def _open(path: Path) -> Any:
    """The image, opened lazily (header only). PIL refuses anything over its decompression-bomb limit; a JPEG
    that large is opened anyway, because it is only ever decoded at a reduced scale (see load_image)."""
    from PIL import Image, JpegImagePlugin

    try:
        return Image.open(path)
    except Image.DecompressionBombError:
        try:
            img = JpegImagePlugin.JpegImageFile(str(path))
        except (SyntaxError, OSError, ValueError):
            raise BadImage(f"{path.name}: larger than {MAX_IMAGE_PIXELS:,} pixels, and not a JPEG (only a JPEG that "
                           "large can be read, at a reduced scale)") from None
        if img.size[0] * img.size[1] > MAX_IMAGE_PIXELS * DRAFT_SCALE ** 2:
            img.close()
            raise BadImage(f"{path.name}: {img.size[0]}×{img.size[1]} is too large even at 1/{DRAFT_SCALE} "
                           "scale") from None
        return img


def image_size(path: Path) -> tuple[int, int]:
    """(width, height) from the file's header; BadImage with the reason when it is not a usable image."""
    from PIL import UnidentifiedImageError

    try:
        with _open(path) as img:
            return img.size
    except BadImage:
        raise
    except FileNotFoundError:
        raise BadImage(f"{path.name}: no such file") from None
    except (UnidentifiedImageError, OSError, ValueError) as exc:
        raise BadImage(f"{path.name}: not an image ({type(exc).__name__})") from None


def load_image(path: Path | str, spec: ImageSpec) -> Any:
    """The decoded RGB image at LLaMA-Factory's pre-processor size, resized from the full picture as it does
    (identical pixels). A JPEG beyond the decompression-bomb limit is decoded at a reduced scale (PIL's draft,
    up to 1/8), so it never sits whole in memory; nothing else that large gets this far."""
    from PIL import Image

    path = Path(path)
    try:
        with _open(path) as img:
            width, height = spec.pre_size(*img.size)
            if img.size[0] * img.size[1] > MAX_IMAGE_PIXELS:
                img.draft("RGB", (width, height))
            img.load()
            out = img if img.size == (width, height) else img.resize((width, height))
            return out if out.mode == "RGB" else out.convert("RGB")
    except (OSError, ValueError, Image.DecompressionBombError) as exc:
        raise BadImage(f"{path.name}: {type(exc).__name__}: {str(exc)[:120]}") from None


def load_image_processor(model_dir: Path | str) -> Any:
    """The model's image processor in its PIL flavour (no torchvision needed)."""
    from transformers import AutoImageProcessor

    return AutoImageProcessor.from_pretrained(str(model_dir))


def pixel_inputs(processor: Any, images: list[Any]) -> dict[str, Any]:
    """pixel_values and image_grid_thw for a batch's images, in order (torch tensors)."""
    out = processor(images=images, return_tensors="pt")
    return {"pixel_values": out["pixel_values"], "image_grid_thw": out["image_grid_thw"]}


def sees_images(model_dir: Path | str) -> bool:
    return str(model_config(Path(model_dir)).get("model_type", "")) in VISION_TYPES
