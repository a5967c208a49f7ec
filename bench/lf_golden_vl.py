"""Reference multimodal ids, labels and image inputs from LLaMA-Factory itself, for tests/fixtures/lf_golden_vl.json.

Run with a Python that has llamafactory 0.9.x plus torch/torchvision installed (a separate venv; it pins older
transformers), after `python bench/make_vl_fixture.py` has built tests/fixtures/vl_processor and vl_images:
    /path/to/lf-venv/bin/python bench/lf_golden_vl.py tests/fixtures/lf_golden_vl.json

Each row comes from LF's own code path for SFT with template "qwen2_vl": `load_tokenizer` (which patches the
processor with image_max_pixels / image_min_pixels), `get_template_and_fix_tokenizer`, `SupervisedDatasetProcessor`
(which calls `mm_plugin.process_messages` to expand each <image>), and `mm_plugin.get_mm_inputs` (what LF's collator
calls) for image_grid_thw and pixel_values. image_sizes are [width, height] after LF's `_regularize_images`, i.e.
the images the processor receives. pixel_values_sum is summed in float64 and rounded to 4 decimals.
train_on_prompt is False throughout.
"""

import json
import sys
from pathlib import Path

from llamafactory.data.processor.supervised import SupervisedDatasetProcessor
from llamafactory.data.template import get_template_and_fix_tokenizer
from llamafactory.hparams import DataArguments, ModelArguments
from llamafactory.model import load_tokenizer

FIXTURES = Path(__file__).resolve().parent.parent / "tests" / "fixtures"
PIXELS = ((768 * 768, 32 * 32), (128 * 128, 32 * 32))  # (image_max_pixels, image_min_pixels); the first is LF's default
RUNS = [(mx, mn, False) for mx, mn in PIXELS] + [(PIXELS[0][0], PIXELS[0][1], True)]  # + mask_history=True


def main() -> None:
    cases = json.loads((FIXTURES / "vl_cases.json").read_text(encoding="utf-8"))
    out = []
    for max_pixels, min_pixels, mask_history in RUNS:
        model_args = ModelArguments(model_name_or_path=str(FIXTURES / "vl_processor"),
                                    image_max_pixels=max_pixels, image_min_pixels=min_pixels)
        module = load_tokenizer(model_args)
        tok, processor = module["tokenizer"], module["processor"]
        data_args = DataArguments(template="qwen2_vl", cutoff_len=100_000, train_on_prompt=False,
                                  mask_history=mask_history)
        template = get_template_and_fix_tokenizer(tok, data_args)
        proc = SupervisedDatasetProcessor(template=template, tokenizer=tok, processor=processor, data_args=data_args)
        plugin = template.mm_plugin
        for case in cases:
            msgs = [{"role": m["role"], "content": m["content"]} for m in case["messages"]]
            images = [str(FIXTURES / "vl_images" / name) for name in case["images"]]
            batch = {"_prompt": [msgs[:-1]], "_response": [msgs[-1:]], "_system": [case["system"]],
                     "_tools": [""], "_images": [images], "_videos": [None], "_audios": [None]}
            enc = proc.preprocess_dataset(batch)
            input_ids = enc["input_ids"][0]
            mm = plugin.get_mm_inputs(images, [], [], [len(images)], [0], [0], [input_ids], processor)
            resized = plugin._regularize_images(images, image_max_pixels=processor.image_max_pixels,
                                                image_min_pixels=processor.image_min_pixels)["images"]
            pixel_values = mm["pixel_values"]
            out.append({"case": case["case"], "image_max_pixels": max_pixels, "image_min_pixels": min_pixels,
                        "mask_history": mask_history, "input_ids": input_ids, "labels": enc["labels"][0],
                        "image_grid_thw": mm["image_grid_thw"].tolist(),
                        "image_sizes": [list(img.size) for img in resized],
                        "pixel_values_shape": list(pixel_values.shape),
                        "pixel_values_sum": round(float(pixel_values.double().sum()), 4)})
    Path(sys.argv[1]).write_text(json.dumps(out, ensure_ascii=False) + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
