from pathlib import Path

import pytest
import yaml

from studio.core import config, presets
from studio.core.config import FIELDS, from_dict, has_errors
from studio.core.presets import PRESETS_DIR


def test_every_field_has_english_and_chinese_label_and_help() -> None:
    for name, f in FIELDS.items():
        for lang in ("en", "zh"):
            label, help_text = f.metadata[lang]
            assert label.strip() and help_text.strip(), (name, lang)


@pytest.mark.bad_input
def test_unknown_key_and_bad_type_are_errors_that_name_them() -> None:
    _, issues = from_dict({"lora_rnak": 8, "learning_rate": "fast"}, "my.yaml")
    texts = [i.text() for i in issues]
    assert "my.yaml: unknown setting 'lora_rnak'." in texts
    assert any(t.startswith("learning_rate: expected a number") for t in texts)
    assert has_errors(issues)


@pytest.mark.bad_input
def test_out_of_range_and_bad_choice_report_all_at_once() -> None:
    _, issues = from_dict({"lora_rank": 0, "lr_scheduler_type": "wild", "cutoff_len": -5}, "f")
    assert {i.field for i in issues if i.level == "error"} == {"lora_rank", "lr_scheduler_type", "cutoff_len"}


def test_yaml_round_trip_is_identity() -> None:
    cfg, _ = from_dict({"learning_rate": 3e-4, "run_name": "试验"}, "x")
    again, issues = from_dict(yaml.safe_load(config.to_yaml(cfg)), "x")
    assert again == cfg and not issues


def test_every_preset_validates_without_errors() -> None:
    files = sorted(Path(PRESETS_DIR).glob("*.yaml"))
    assert {"lora", "full", "qlora", "demo"} <= {p.stem for p in files}
    for path in files:
        _, issues = presets.from_preset(path.stem)
        assert not has_errors(issues), (path.name, [i.text() for i in issues])
        assert presets.preset_rationale(path.stem), f"{path.name} has no rationale comment"
        zh = presets.preset_rationale(path.stem, "zh")
        assert zh != presets.preset_rationale(path.stem) and "的" in zh, f"{path.name} has no Chinese rationale"


def test_config_template_choices_are_the_registry_names() -> None:
    from studio.core.config import TEMPLATE_NAMES as CHOICES
    from studio.templates.named import TEMPLATE_NAMES

    assert CHOICES == TEMPLATE_NAMES


def test_presets_list_only_what_differs_from_the_defaults() -> None:
    from studio.core.config import RunConfig, to_dict

    defaults = to_dict(RunConfig())
    for name in presets.list_presets():
        same = {k: v for k, v in presets.preset_values(name).items() if defaults[k] == v}
        assert not same, f"preset {name} repeats defaults: {same}"
