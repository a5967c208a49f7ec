"""Checks of a run config against the workspace and machine; the Start button, CLI and worker all call these."""

from __future__ import annotations

import re
from pathlib import Path

from studio.core.config import PREFERENCE_STAGES, Issue, RunConfig
from studio.core.errors import StudioError
from studio.core.hf import hub_issue
from studio.core.machine import has_gpu
from studio.core.messages import MESSAGES, Both
from studio.core.workspace import Workspace
from studio.data.load import survey
from studio.data.registry import DatasetEntry, load_registry

HUB_ID = re.compile(r"[A-Za-z0-9][\w.-]*(/[A-Za-z0-9][\w.-]*)?")  # owner/name (or a legacy bare name like gpt2)


def check_environment(cfg: RunConfig, ws: Workspace) -> list[Issue]:
    issues: list[Issue] = []
    local = ws.root / cfg.model_name_or_path
    if local.exists() or cfg.model_name_or_path.startswith(("/", ".", "models/")):
        if not (local / "config.json").exists():
            from studio.core.workspace import DEMO_MODEL

            key = "config.model_creating" if cfg.model_name_or_path == DEMO_MODEL else "config.model_missing"
            issues.append(Issue("model_name_or_path", "error", key, {"path": cfg.model_name_or_path}))
        elif not any(local.glob("*.safetensors")):  # weights load from safetensors only: say so before launch
            issues.append(Issue("model_name_or_path", "error", "config.no_safetensors",
                                {"path": cfg.model_name_or_path}))
        else:
            issues += check_template(cfg, local)
    elif not HUB_ID.fullmatch(cfg.model_name_or_path):
        issues.append(Issue("model_name_or_path", "error", "config.model_not_id", {"path": cfg.model_name_or_path}))
    elif (problem := hub_issue(cfg.model_name_or_path)) is not None:  # cached, or the hub answers, or say why
        issues.append(Issue("model_name_or_path", "error", problem[0], problem[1]))
    try:
        entry = load_registry(ws.registry_file).get(cfg.dataset)
    except StudioError as err:
        issues.append(Issue("dataset", "error", err.key, dict(err.fields)))
    else:
        if entry is None:
            issues.append(Issue("dataset", "error", "registry.unknown",
                                {"name": cfg.dataset, "file": ws.registry_file.name}))
        elif (state := entry.state(ws.data_dir)) == "remote":
            issues.append(Issue("dataset", "error", "registry.remote", {"name": cfg.dataset}))
        elif state == "missing":
            issues.append(Issue("dataset", "error", "file.missing", {"file": entry.file_name or cfg.dataset}))
        elif state == "outside":
            issues.append(Issue("dataset", "error", "registry.outside", {"name": cfg.dataset,
                                                                          "file": entry.file_name}))
        elif (problem := _stage_data(cfg, entry)) is not None:
            issues.append(problem)
        elif cfg.stage in PREFERENCE_STAGES and (err := _survey_preferences(ws, cfg.dataset)) is not None:
            issues.append(Issue("dataset", "error", err.key, dict(err.fields)))
        elif cfg.stage in PREFERENCE_STAGES and (media := entry.media_columns()) and not cfg.text_only:
            issues.append(Issue("dataset", "error", "pref.media_launch", {
                "stage": cfg.stage, "name": cfg.dataset, "media": ", ".join(media), "columns": ", ".join(media.values())}))
        elif cfg.stage not in PREFERENCE_STAGES and (err := survey(entry, ws.data_dir, cfg.stage != "eval")) \
                is not None:  # nothing would survive
            issues.append(Issue("dataset", "error", err.key, dict(err.fields)))
        else:
            issues += _check_media(cfg, ws, entry.media_columns()) + _check_images(cfg, ws, entry.media_columns())
    if cfg.adapter_name_or_path:
        issues += check_start(cfg, ws)
    if cfg.precision in ("bf16", "fp16") and not has_gpu():
        issues.append(Issue("precision", "error", "config.no_gpu", {"value": cfg.precision}))
    return issues + _check_machine(cfg)


def _stage_data(cfg: RunConfig, entry: DatasetEntry) -> Issue | None:
    """A dataset of the wrong shape for the stage, said with the stage and the columns it expects."""
    from studio.data.preference import kind

    shape, fields = kind(entry), {"name": cfg.dataset, "stage": cfg.stage}
    if cfg.stage == "dpo" and shape != "pairs":
        return Issue("dataset", "error", "pref.needs_pairs", fields)
    if cfg.stage == "kto" and shape != "kto":
        return Issue("dataset", "error", "pref.needs_kto", fields)
    if cfg.stage in ("sft", "eval") and shape != "sft":
        return Issue("dataset", "error", "registry.ranking" if shape == "pairs" else "pref.kto_for_sft", fields)
    return None


def _survey_preferences(ws: Workspace, name: str) -> StudioError | None:
    """The reason no row of a preference dataset is usable, or None."""
    from studio.data.preference import load_preferences

    try:
        load_preferences(ws.registry_file, name)
    except StudioError as err:
        return err
    return None


def _check_media(cfg: RunConfig, ws: Workspace, media: dict[str, str]) -> list[Issue]:
    """A dataset with images (videos, audios) for a model that reads text only: refused, unless the config asks
    for the text alone (text_only), which is then said as a warning."""
    from studio.model.info import media_inputs

    local = ws.root / cfg.model_name_or_path
    unseen = sorted(set(media) - media_inputs(local)) if (local / "config.json").exists() else []
    if not unseen:
        return []
    fields = {"name": cfg.dataset, "media": ", ".join(unseen), "columns": ", ".join(media[k] for k in unseen),
              "model": cfg.model_name_or_path}
    if cfg.text_only:
        return [Issue("text_only", "warning", "config.media_text_only", fields)]
    return [Issue("dataset", "error", "config.media_unseen", fields)]


def _check_images(cfg: RunConfig, ws: Workspace, media: dict[str, str]) -> list[Issue]:
    """An image dataset on a model that sees images: packing would mix image positions across examples."""
    from studio.model.info import media_inputs

    if "images" in media and not cfg.text_only and cfg.packing and "images" in media_inputs(ws.root / cfg.model_name_or_path):
        return [Issue("packing", "error", "config.packing_images", {"name": cfg.dataset})]
    return []


def _check_machine(cfg: RunConfig) -> list[Issue]:
    """Settings that need a GPU or a package this machine may not have: said before launch, not mid-run."""
    import importlib.util

    issues = []
    needs = []
    if cfg.quantization != "none":
        needs.append(("quantization", cfg.quantization, "bitsandbytes"))
    if cfg.distributed.startswith("deepspeed"):
        needs.append(("distributed", cfg.distributed, "deepspeed"))
    if cfg.distributed == "fsdp":
        needs.append(("distributed", cfg.distributed, ""))
    for name, value, package in needs:
        if not has_gpu():
            issues.append(Issue(name, "error", "config.needs_gpu", {"field": name, "value": value}))
        elif package and importlib.util.find_spec(package) is None:
            issues.append(Issue(name, "error", "config.needs_package",
                                {"field": name, "value": value, "package": package}))
    return issues


def check_template(cfg: RunConfig, model: Path) -> list[Issue]:
    """The template against the model's tokenizer: tokens it needs, a stop token, the model's own format."""
    from studio.model.info import context_limit, load_tokenizer, propose_template, single_token
    from studio.templates.auto import AutoTemplate, check_auto
    from studio.templates.named import AUTO, EOS, get_template
    from studio.templates.registry import eos_id

    issues: list[Issue] = []
    name = cfg.model_name_or_path
    limit = context_limit(model)
    if limit and cfg.cutoff_len > limit:
        issues.append(Issue("cutoff_len", "error", "config.cutoff_over_limit",
                            {"value": cfg.cutoff_len, "limit": limit, "model": name}))
    try:
        tok = load_tokenizer(model, cfg.trust_remote_code)
    except StudioError as err:
        return [*issues, Issue("model_name_or_path", "error", err.key, dict(err.fields))]
    proposal, why = propose_template(model, tok)
    if cfg.template == AUTO:
        reason = check_auto(tok)
        if reason == "no_chat_template":
            return [*issues, Issue("template", "error", "template.auto_no_chat", {"model": name, "proposal": proposal})]
        if reason:
            return [*issues, Issue("template", "error", "template.auto_unsplittable", {"model": name, "reason": reason})]
        template = AutoTemplate(tok)
    else:
        template = get_template(cfg.template)
        missing = [t for t in template.specials if not single_token(tok, t)]
        if missing:
            return [*issues, Issue("template", "error", "template.missing_tokens",
                                   {"template": cfg.template, "tokens": ", ".join(missing), "model": name,
                                    "proposal": proposal})]
        uses_eos = any(EOS in slots for slots in (template.user, template.assistant, template.system or ()))
        if uses_eos and eos_id(template, tok) is None:
            return [*issues, Issue("template", "error", "template.no_eos", {"template": cfg.template, "model": name})]
    if not template.trains_stop:
        issues.append(Issue("template", "warning", "template.no_stop", {"template": cfg.template}))
    same_markup = {proposal, cfg.template} <= {"chatml", "qwen", "qwen3"}  # one markup, different defaults
    if proposal != cfg.template and cfg.template != AUTO and not same_markup:
        issues.append(Issue("template", "warning", "template.mismatch",
                            {"template": cfg.template, "model": name, "proposal": proposal,
                             "why": Both(*MESSAGES[f"why.{why}"])}))
    return issues


def check_start(cfg: RunConfig, ws: Workspace) -> list[Issue]:
    """The Start-from adapter: a LoRA folder whose matrices fit this base model. It keeps its own rank and targets,
    which is said when the form asks for others."""
    import json

    from studio.model.adapter import check_adapter
    from studio.model.load import adapter_path, model_path

    folder = Path(adapter_path(cfg, ws))
    if not folder.is_dir():
        return [Issue("adapter_name_or_path", "error", "config.start_missing", {"path": cfg.adapter_name_or_path})]
    try:
        check_adapter(folder, model_path(cfg, ws))
    except StudioError as err:
        return [Issue("adapter_name_or_path", "error", err.key, dict(err.fields))]
    rank = json.loads((folder / "adapter_config.json").read_text(encoding="utf-8")).get("r")
    if cfg.stage == "sft" and rank and rank != cfg.lora_rank:
        return [Issue("lora_rank", "warning", "config.start_rank", {"rank": rank, "asked": cfg.lora_rank})]
    return []
