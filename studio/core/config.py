"""The one run-config schema: fields with defaults, bounds, en/zh help; YAML, presets and checks derive from it."""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Any, Literal

import yaml

from studio.core.errors import StudioError
from studio.core.messages import render
from studio.core.workspace import NAME_RE, check_text

GROUPS = ("model", "data", "method", "vision", "train", "eval", "output", "distributed")  # the Train form's
EVAL_GROUP = "evaluate"  # the Evaluate tab's own fields; a training run keeps their defaults
STAGES = ("sft", "eval")
# The template registry's names (studio.templates, a higher layer, keeps the definitions; a test keeps both equal).
TEMPLATE_NAMES = ("default", "empty", "alpaca", "chatml", "qwen", "qwen2_vl", "qwen3", "llama3", "mistral", "gemma",
                  "auto")


def knob(default: Any, *, group: str, en: tuple[str, str], zh: tuple[str, str], ge: float | None = None,
         le: float | None = None, choices: tuple[str, ...] | None = None, browser: bool = True) -> Any:
    """A config field with everything the UI, CLI and checks need to know about it.

    `browser=False` marks an operator's decision: the YAML and CLI set it, the form never shows or sends it."""
    meta = {"group": group, "en": en, "zh": zh, "ge": ge, "le": le, "choices": choices, "browser": browser}
    return field(default=default, metadata=meta)


@dataclass
class RunConfig:
    # model
    model_name_or_path: str = knob("models/demo-tiny", group="model",
        en=("Model", "A folder with config.json and safetensors weights (relative to the workspace), or a hub id."),
        zh=("模型", "含 config.json 和 safetensors 权重的文件夹（相对工作区），或模型仓库 ID。"))
    template: str = knob("chatml", group="model", choices=TEMPLATE_NAMES,
        en=("Chat template", "How turns are written around the text, as LLaMA-Factory's template of the same "
            "name; 'auto' uses the model's own chat template. Must match the model's chat format."),
        zh=("对话模板", "对话轮次的书写格式，与 LLaMA-Factory 同名模板一致；“auto”使用模型自带的对话模板。"
            "须与模型的对话格式一致。"))
    trust_remote_code: bool = knob(False, group="model", browser=False,
        en=("Trust remote code", "Allow Python code shipped inside the model folder to run (only modules inside that "
            "folder). The operator's decision: the YAML for the CLI, --trust-remote-code for the server."),
        zh=("信任远程代码", "允许运行模型文件夹内附带的 Python 代码（仅限该文件夹内的模块）。由管理员决定："
            "命令行用 YAML 设置，服务器用 --trust-remote-code。"))
    adapter_name_or_path: str = knob("", group="model",
        en=("Start from", "Continue from an earlier LoRA result instead of a fresh adapter: a run's adapter folder "
            "(runs/<id>/adapter) or one of its checkpoints (runs/<id>/checkpoint-N), trained on this same base "
            "model. Empty = a new adapter."),
        zh=("起点", "从以前的 LoRA 结果继续训练，而不是新建适配器：某次运行的适配器文件夹（runs/<id>/adapter）或其检查点"
            "（runs/<id>/checkpoint-N），须在同一个底座模型上训练。留空表示新建适配器。"))
    # data
    dataset: str = knob("demo_identity", group="data",
        en=("Dataset", "A dataset registered in the workspace's data/dataset_info.json."),
        zh=("数据集", "在工作区 data/dataset_info.json 中注册的数据集。"))
    val_size: float = knob(0.0, group="data", ge=0.0, le=0.5,
        en=("Validation share", "Share of the rows held out (seeded) to measure eval loss; 0 = no evaluation."),
        zh=("验证集比例", "按随机种子留出的样本比例，用于计算验证损失；0 表示不评估。"))
    cutoff_len: int = knob(1024, group="data", ge=0, le=131072,
        en=("Cutoff length", "Longest example in tokens; 0 = the dataset's 99th percentile, rounded up to 64. "
            "Longer ones lose their oldest turns first, then the start of the prompt, then the end of the answer."),
        zh=("截断长度", "单个样本的最大 token 数；0 表示取数据集长度的第 99 百分位（向上取整到 64）。更长的样本先去掉"
            "最早的轮次，再截去提示的开头，最后截去回答的结尾。"))
    train_on_prompt: bool = knob(False, group="data",
        en=("Train on prompt", "Also learn the prompt tokens (system, user, tool results), not only the answers."),
        zh=("训练提示部分", "除回答外，也学习提示部分的 token（系统、用户、工具结果）。"))
    mask_history: bool = knob(False, group="data",
        en=("Mask history", "Learn only the last answer of each conversation; earlier answers are context."),
        zh=("屏蔽历史", "只学习每段对话的最后一个回答；之前的回答只作为上下文。"))
    text_only: bool = knob(False, group="data",
        en=("Text only", "For a model that cannot see images: train on the rows' text alone, with their <image>, "
            "<video> and <audio> placeholders removed. Without it, such a dataset is refused for such a model."),
        zh=("仅文本", "用于看不到图片的模型：只用样本中的文字训练，并去掉其中的 <image>、<video>、<audio> 占位符。"
            "不勾选时，这类数据集不能用于这类模型。"))
    packing: bool = knob(False, group="data",
        en=("Packing", "Put several examples in one row up to the cutoff length, without padding and without "
            "attention between them: faster on short examples."),
        zh=("序列打包", "把多个样本放进一行（不超过截断长度），无填充，样本之间互不注意：短样本训练更快。"))
    # method
    finetuning_type: str = knob("lora", group="method", choices=("lora", "full", "freeze"),
        en=("Method", "lora = small adapter on a frozen model; full = every weight; freeze = only the last layers."),
        zh=("微调方法", "lora：在冻结的模型上训练小适配器；full：训练全部权重；freeze：只训练最后几层。"))
    freeze_trainable_layers: int = knob(2, group="method", ge=1, le=1024,
        en=("Trainable layers (freeze)", "With freeze: how many of the last transformer layers learn."),
        zh=("可训练层数（freeze）", "freeze 方法下：最后多少个 Transformer 层参与训练。"))
    lora_rank: int = knob(8, group="method", ge=1, le=1024,
        en=("LoRA rank", "Width of the adapter matrices: more capacity, more memory."),
        zh=("LoRA 秩", "适配器矩阵的宽度；越大容量越高，显存占用也越多。"))
    lora_alpha: int = knob(16, group="method", ge=1, le=4096,
        en=("LoRA alpha", "Scale of the adapter's update (alpha / rank); 2 x rank is usual."),
        zh=("LoRA alpha", "适配器更新的缩放（alpha / 秩）；通常取 2 × 秩。"))
    lora_dropout: float = knob(0.0, group="method", ge=0.0, le=0.9,
        en=("LoRA dropout", "Dropout on the adapter's input; helps against overfitting small data."),
        zh=("LoRA dropout", "适配器输入上的 dropout；小数据集上有助于防止过拟合。"))
    lora_target: str = knob("all", group="method",
        en=("LoRA target modules", "'all' = every linear layer, or comma-separated module names (q_proj,v_proj)."),
        zh=("LoRA 目标模块", "“all” 表示全部线性层，或用逗号分隔的模块名（q_proj,v_proj）。"))
    use_dora: bool = knob(False, group="method",
        en=("DoRA", "Weight-decomposed LoRA: often a little better at the same rank, slower per step."),
        zh=("DoRA", "权重分解的 LoRA：同样的秩下效果常略好，每步更慢。"))
    use_rslora: bool = knob(False, group="method",
        en=("rsLoRA", "Scale by alpha / sqrt(rank) instead of alpha / rank: keeps high ranks learning."),
        zh=("rsLoRA", "用 alpha / sqrt(秩) 代替 alpha / 秩 缩放：高秩时仍能有效学习。"))
    quantization: str = knob("none", group="method", choices=("none", "4bit", "8bit"),
        en=("Quantize base", "Load the frozen base in 4 or 8 bits (QLoRA): needs a CUDA GPU and bitsandbytes."),
        zh=("量化底座", "以 4 或 8 位加载冻结的底座模型（QLoRA）：需要 CUDA GPU 和 bitsandbytes。"))
    # vision (models that see images)
    freeze_vision_tower: bool = knob(True, group="vision",
        en=("Freeze vision tower", "Keep the image encoder as it is; off: it learns too (LoRA on its layers, or "
            "its weights with full)."),
        zh=("冻结视觉编码器", "保持图像编码器不变；关闭时它也参与训练（LoRA 加在其层上，或 full 时训练其权重）。"))
    freeze_multi_modal_projector: bool = knob(True, group="vision",
        en=("Freeze projector", "Keep the layer that maps image features into the language model as it is; off: "
            "it is trained in full and saved with the adapter."),
        zh=("冻结投影层", "保持把图像特征映射到语言模型的那一层不变；关闭时它会被完整训练，并随适配器一起保存。"))
    image_max_pixels: int = knob(768 * 768, group="vision", ge=28 * 28, le=16384 * 16384,
        en=("Image max pixels", "Larger images are scaled down to this many pixels before the processor "
            "(LLaMA-Factory's default 589824 = 768×768); fewer pixels, fewer image tokens."),
        zh=("图片最大像素", "更大的图片在送入处理器前缩小到这个像素数（LLaMA-Factory 默认 589824 = 768×768）；"
            "像素越少，图片 token 越少。"))
    image_min_pixels: int = knob(32 * 32, group="vision", ge=1, le=16384 * 16384,
        en=("Image min pixels", "Smaller images are scaled up to this many pixels (LLaMA-Factory's default 1024)."),
        zh=("图片最小像素", "更小的图片放大到这个像素数（LLaMA-Factory 默认 1024）。"))
    # train
    learning_rate: float = knob(1e-4, group="train", ge=1e-8, le=1.0,
        en=("Learning rate", "Step size of the optimizer; LoRA usually 5e-5 to 2e-4."),
        zh=("学习率", "优化器步长；LoRA 通常在 5e-5 到 2e-4 之间。"))
    num_train_epochs: float = knob(3.0, group="train", ge=0.01, le=1000.0,
        en=("Epochs", "Passes over the data; 3 is usually enough."), zh=("训练轮数", "遍历数据的次数；通常 3 轮就够。"))
    max_steps: int = knob(0, group="train", ge=0, le=10_000_000,
        en=("Max steps", "Stop after this many optimizer steps; 0 = run the epochs."),
        zh=("最大步数", "达到该优化步数后停止；0 表示按轮数训练。"))
    per_device_train_batch_size: int = knob(1, group="train", ge=1, le=4096,
        en=("Batch size per device", "Examples per forward pass on each device."),
        zh=("每设备批大小", "每个设备每次前向计算的样本数。"))
    gradient_accumulation_steps: int = knob(8, group="train", ge=1, le=4096,
        en=("Gradient accumulation", "Batches summed before each optimizer step."),
        zh=("梯度累积", "每次优化器更新前累加的批次数。"))
    lr_scheduler_type: str = knob("cosine", group="train",
        choices=("linear", "cosine", "constant", "constant_with_warmup"),
        en=("LR scheduler", "How the learning rate changes over the run."),
        zh=("学习率调度", "学习率在训练过程中的变化方式。"))
    warmup_ratio: float = knob(0.0, group="train", ge=0.0, le=0.5,
        en=("Warmup ratio", "Share of steps spent ramping the learning rate up from zero."),
        zh=("预热比例", "学习率从零升起所占的步数比例。"))
    precision: str = knob("auto", group="train", choices=("auto", "fp32", "bf16", "fp16"),
        en=("Precision", "auto = bf16 on a GPU that has it, else fp16 on a GPU, fp32 on CPU."),
        zh=("精度", "auto：GPU 支持时用 bf16，否则 GPU 上用 fp16，CPU 上用 fp32。"))
    max_grad_norm: float = knob(1.0, group="train", ge=0.0, le=1000.0,
        en=("Gradient clipping", "Largest gradient norm before each step; 0 = no clipping."),
        zh=("梯度裁剪", "每步更新前梯度范数的上限；0 表示不裁剪。"))
    group_by_length: bool = knob(True, group="train",
        en=("Group by length", "Batches of similar-length rows: little padding, so much faster (on by default); the "
            "order is random between groups only. Off: random batches, padded to their longest row."),
        zh=("按长度分组", "长度相近的样本成批：几乎无填充，快得多（默认开启）；只在组与组之间随机。关闭：随机成批，填充到最长一行。"))
    gradient_checkpointing: bool = knob(False, group="train",
        en=("Gradient checkpointing", "Recompute activations in the backward pass: less memory, ~30% slower."),
        zh=("梯度检查点", "反向传播时重算激活值：更省显存，约慢 30%。"))
    seed: int = knob(42, group="train", ge=0, le=2**31 - 1,
        en=("Seed", "Same seed, same data order and initial adapter."),
        zh=("随机种子", "相同的种子得到相同的数据顺序和初始适配器。"))
    # eval
    eval_steps: int = knob(50, group="eval", ge=1, le=10_000_000,
        en=("Eval steps", "Measure eval loss on the validation share every this many steps."),
        zh=("评估间隔步数", "每隔多少步在验证集上计算一次验证损失。"))
    early_stopping_patience: int = knob(0, group="eval", ge=0, le=1000,
        en=("Early stopping patience", "Stop after this many evaluations without a better eval loss and keep the "
            "best checkpoint; 0 = off. Needs a validation share."),
        zh=("早停耐心值", "连续多少次评估的验证损失没有改善就停止，并保留最佳检查点；0 表示关闭。需要验证集。"))
    worst_rows: int = knob(20, group="eval", ge=0, le=1000,
        en=("Worst rows listed", "After training, rank the training rows by their loss and list this many of the "
            "worst (how bad data is found); 0 = skip."),
        zh=("列出的最差样本数", "训练结束后按损失给训练样本排序，列出最差的这么多条（用于发现坏数据）；0 表示跳过。"))
    # output
    logging_steps: int = knob(5, group="output", ge=1, le=100_000,
        en=("Logging steps", "Write a metrics line every this many steps."),
        zh=("日志间隔步数", "每隔多少步写一行指标。"))
    save_steps: int = knob(200, group="output", ge=1, le=10_000_000,
        en=("Save steps", "Write a checkpoint every this many steps (resume starts from the latest)."),
        zh=("保存间隔步数", "每隔多少步保存一个检查点（恢复训练从最新的检查点开始）。"))
    save_total_limit: int = knob(2, group="output", ge=1, le=1000,
        en=("Checkpoints kept", "Older checkpoints beyond this count are deleted (the best one is kept)."),
        zh=("保留检查点数", "超过此数量的旧检查点会被删除（最佳检查点会保留）。"))
    run_name: str = knob("", group="output",
        en=("Output name", "The run folder's name under runs/; empty = date, time and dataset."),
        zh=("输出名称", "runs/ 下运行文件夹的名称；留空则使用日期、时间和数据集名。"))
    # distributed
    num_processes: int = knob(1, group="distributed", ge=1, le=1024,
        en=("Processes per machine", "One per GPU; more than 1 launches through accelerate (on CPU: gloo)."),
        zh=("每台机器的进程数", "每块 GPU 一个；大于 1 时通过 accelerate 启动（CPU 上使用 gloo）。"))
    distributed: str = knob("ddp", group="distributed",
        choices=("ddp", "deepspeed_zero2", "deepspeed_zero3", "fsdp"),
        en=("Distributed strategy", "ddp copies the model to every process; ZeRO-2/3 and FSDP shard optimizer "
            "state (and weights) across GPUs, with configs from presets/."),
        zh=("分布式策略", "ddp 在每个进程放一份模型；ZeRO-2/3 与 FSDP 把优化器状态（及权重）切分到各 GPU，配置取自 presets/。"))
    num_machines: int = knob(1, group="distributed", ge=1, le=1024,
        en=("Machines", "More than 1: run the shown command on every machine, each with its own rank."),
        zh=("机器数", "大于 1 时：在每台机器上运行显示的命令，各用自己的序号。"))
    machine_rank: int = knob(0, group="distributed", ge=0, le=1023,
        en=("Machine rank", "This machine's number, 0 to machines - 1; 0 is the main machine."),
        zh=("机器序号", "本机的编号，0 到 机器数 - 1；0 为主机。"))
    main_process_ip: str = knob("", group="distributed",
        en=("Main machine address", "IP address of machine 0, reachable from every machine."),
        zh=("主机地址", "0 号机器的 IP 地址，须能被每台机器访问。"))
    main_process_port: int = knob(29500, group="distributed", ge=1, le=65535,
        en=("Main machine port", "A free TCP port on machine 0."),
        zh=("主机端口", "0 号机器上一个空闲的 TCP 端口。"))
    cache_dir: str = knob("", group="distributed",
        en=("Cache folder", "Where tokenized data and hub files are kept; point every machine at the same shared "
            "folder so preprocessing happens once. Empty = the workspace's cache/."),
        zh=("缓存文件夹", "分词后的数据和模型仓库文件的存放处；让每台机器指向同一个共享文件夹，预处理只做一次。"
            "留空则使用工作区的 cache/。"))

    # evaluate (stage eval: the Evaluate tab and `python -m studio eval`)
    stage: str = knob("sft", group=EVAL_GROUP, choices=STAGES,
        en=("Stage", "sft = supervised fine-tuning; eval = predictions and scores of trained weights."),
        zh=("阶段", "sft：监督微调；eval：用训练好的权重生成预测并打分。"))
    eval_run: str = knob("", group=EVAL_GROUP,
        en=("Run evaluated", "The run whose weights are evaluated (its base model, template and data settings are "
            "used); empty = the model and Start-from adapter given directly."),
        zh=("被评估的运行", "评估哪次运行的权重（沿用它的底座模型、模板和数据设置）；留空则评估直接给出的模型和起点适配器。"))
    eval_weights: str = knob("final", group=EVAL_GROUP,
        en=("Weights", "The run's final weights and/or its checkpoint-N (comma-separated in YAML). Several give a "
            "score per checkpoint, to pick the best one."),
        zh=("权重", "运行的 final 和/或 checkpoint-N（YAML 中用逗号分隔）。选多个会得到每个检查点的分数，便于挑出最好的。"))
    eval_base: bool = knob(True, group=EVAL_GROUP,
        en=("Also the base model", "Evaluate the untuned base model on the same rows and settings: the scores side "
            "by side, with the difference."),
        zh=("同时评估底座模型", "在同样的样本和设置上评估未微调的底座模型：分数并排显示，并给出差值。"))
    eval_dataset: str = knob("", group=EVAL_GROUP,
        en=("Evaluate on", "A registered dataset; empty = the run's held-out rows (its validation share, never "
            "trained on)."),
        zh=("评估数据", "已注册的数据集；留空则使用运行留出的样本（验证集部分，从未参与训练）。"))
    max_samples: int = knob(100, group=EVAL_GROUP, ge=0, le=10_000_000,
        en=("Row limit", "Evaluate at most this many rows (the first ones); 0 = all."),
        zh=("样本上限", "最多评估这么多条样本（取前面的）；0 表示全部。"))
    max_new_tokens: int = knob(128, group=EVAL_GROUP, ge=1, le=8192, en=("Max new tokens", "Longest answer generated "
        "per row."), zh=("最大生成 token 数", "每条样本最多生成的 token 数。"))
    temperature: float = knob(0.0, group=EVAL_GROUP, ge=0.0, le=2.0,
        en=("Temperature", "0 = greedy decoding: the same answers every time (the fair comparison)."),
        zh=("温度", "0 表示贪心解码：每次答案相同（比较才公平）。"))
    top_p: float = knob(1.0, group=EVAL_GROUP, ge=0.01, le=1.0, en=("Top-p", "With temperature > 0: sample among the "
        "most likely tokens that make up this share."), zh=("Top-p", "温度大于 0 时：只在累计概率达到该比例的最可能 token 中采样。"))
    per_device_eval_batch_size: int = knob(8, group=EVAL_GROUP, ge=1, le=4096,
        en=("Eval batch size", "Rows generated together (sorted by prompt length, left-padded)."),
        zh=("评估批大小", "一起生成的样本数（按提示长度排序，左侧填充）。"))
    sql_db_dir: str = knob("", group=EVAL_GROUP,
        en=("SQLite folder", "For text-to-SQL rows with a db_id: a folder (in the workspace) holding "
            "<db_id>/<db_id>.sqlite. Predicted and reference SQL run read-only with a time limit and their results "
            "are compared (execution match)."),
        zh=("SQLite 文件夹", "用于带 db_id 的文本转 SQL 样本：工作区内包含 <db_id>/<db_id>.sqlite 的文件夹。预测和参考 SQL "
            "以只读方式、限时执行，并比较结果（执行匹配）。"))
    sql_timeout_s: float = knob(5.0, group=EVAL_GROUP, ge=0.1, le=600.0,
        en=("SQL time limit (s)", "Longest a single query may run; slower ones count as timed out."),
        zh=("SQL 时限（秒）", "单条查询最长运行时间；更慢的计为超时。"))

FIELDS = {f.name: f for f in fields(RunConfig)}
HOST_RE = re.compile(r"[0-9A-Za-z][0-9A-Za-z.\-]{0,252}|\[?[0-9A-Fa-f:]{2,39}\]?")  # a host name, IPv4 or IPv6
BROWSER_FIELDS = tuple(name for name, f in FIELDS.items() if f.metadata["browser"])
FORM_FIELDS = tuple(name for name in BROWSER_FIELDS if FIELDS[name].metadata["group"] in GROUPS)  # the Train form
EVAL_FIELDS = tuple(name for name in BROWSER_FIELDS if FIELDS[name].metadata["group"] == EVAL_GROUP)
_TYPE_NAMES = {int: "an integer", float: "a number", bool: "true or false", str: "text"}


@dataclass(frozen=True)
class Issue:
    field: str
    level: Literal["error", "warning"]
    key: str
    params: dict[str, Any]

    def text(self, lang: str = "en") -> str:
        return render(self.key, lang, **self.params)


def has_errors(issues: list[Issue]) -> bool:
    return any(i.level == "error" for i in issues)


def _coerce(name: str, value: Any) -> tuple[Any, Issue | None]:
    kind = {"int": int, "float": float, "bool": bool, "str": str}[str(FIELDS[name].type)]
    ok = (isinstance(value, kind) and not (kind is int and isinstance(value, bool))) or (
        kind is float and isinstance(value, int) and not isinstance(value, bool))
    if kind is int and isinstance(value, float) and value.is_integer():
        value, ok = int(value), True
    if kind is float and isinstance(value, str):  # YAML reads 1e-4 (no dot) as a string
        try:
            value, ok = float(value), True
        except ValueError:
            pass
    if not ok:
        return None, Issue(name, "error", "config.bad_type", {"field": name, "expected": _TYPE_NAMES[kind],
                                                               "value": value})
    return (float(value) if kind is float else value), None


def from_dict(data: dict[str, Any], source: str) -> tuple[RunConfig, list[Issue]]:
    """Build a config from a (partial) mapping; unknown keys and wrong types are reported, not dropped."""
    cfg, issues = RunConfig(), []
    for key, value in data.items():
        if key not in FIELDS:
            issues.append(Issue(key, "error", "config.unknown_key", {"source": source, "key": key}))
            continue
        value, issue = _coerce(key, value)
        if issue:
            issues.append(issue)
        else:
            setattr(cfg, key, value)
    return cfg, issues + check_fields(cfg)


def check_fields(cfg: RunConfig) -> list[Issue]:
    """Bounds and choices declared in the schema, plus rules that tie fields together."""
    issues = []
    for name, f in FIELDS.items():
        value, meta = getattr(cfg, name), f.metadata
        if meta["choices"] and value not in meta["choices"]:
            issues.append(Issue(name, "error", "config.bad_choice",
                                {"field": name, "value": value, "choices": ", ".join(meta["choices"])}))
        low, high = meta["ge"], meta["le"]
        if low is not None and not (low <= value <= high):
            shown = value if len(str(value)) <= 24 else f"{str(value)[:20]}…"  # 1e308 is not worth 309 digits
            issues.append(Issue(name, "error", "config.out_of_range",
                                {"field": name, "value": shown, "low": low, "high": high}))
    issues += _check_combinations(cfg)
    return issues


def _check_combinations(cfg: RunConfig) -> list[Issue]:
    issues = []
    if cfg.finetuning_type == "lora" and cfg.lora_alpha < cfg.lora_rank:
        issues.append(Issue("lora_alpha", "warning", "config.alpha_low",
                            {"alpha": cfg.lora_alpha, "rank": cfg.lora_rank}))
    if cfg.mask_history and cfg.train_on_prompt:
        issues.append(Issue("mask_history", "error", "config.history_and_prompt", {}))
    if cfg.trust_remote_code:
        issues.append(Issue("trust_remote_code", "warning", "config.remote_code", {}))
    if 0 < cfg.cutoff_len < 16:  # 0 means "from the data"; a handful of tokens cannot hold a turn
        issues.append(Issue("cutoff_len", "error", "config.out_of_range",
                            {"field": "cutoff_len", "value": cfg.cutoff_len, "low": 16, "high": 131072}))
    if cfg.quantization != "none" and cfg.finetuning_type != "lora":
        issues.append(Issue("quantization", "error", "config.quant_needs_lora", {"method": cfg.finetuning_type}))
    if cfg.early_stopping_patience and not cfg.val_size:
        issues.append(Issue("early_stopping_patience", "error", "config.patience_needs_val", {}))
    if cfg.early_stopping_patience and cfg.val_size and cfg.save_steps % cfg.eval_steps:
        issues.append(Issue("save_steps", "error", "config.save_eval_steps",
                            {"save": cfg.save_steps, "eval": cfg.eval_steps}))
    if cfg.machine_rank >= cfg.num_machines:
        issues.append(Issue("machine_rank", "error", "config.bad_rank",
                            {"rank": cfg.machine_rank, "machines": cfg.num_machines}))
    if cfg.num_machines > 1 and not cfg.main_process_ip.strip():
        issues.append(Issue("main_process_ip", "error", "config.need_main_ip", {}))
    if cfg.main_process_ip and not HOST_RE.fullmatch(cfg.main_process_ip):
        issues.append(Issue("main_process_ip", "error", "config.bad_host", {"value": cfg.main_process_ip[:100]}))
    if cfg.adapter_name_or_path and cfg.finetuning_type != "lora" and cfg.stage == "sft":
        issues.append(Issue("adapter_name_or_path", "error", "config.start_needs_lora",
                            {"method": cfg.finetuning_type}))
    if cfg.run_name and not NAME_RE.fullmatch(cfg.run_name):
        shown = cfg.run_name if len(cfg.run_name) <= 60 else cfg.run_name[:57] + "…"
        issues.append(Issue("run_name", "error", "input.bad_name", {"field": "run_name", "value": shown}))
    for name, f in FIELDS.items():  # NUL and control bytes never reach a path or a subprocess argument
        value = getattr(cfg, name)
        if str(f.type) == "str" and isinstance(value, str):
            try:
                check_text(value, name)
            except StudioError as err:
                issues.append(Issue(name, "error", err.key, dict(err.fields)))
    return issues


def to_dict(cfg: RunConfig) -> dict[str, Any]:
    return asdict(cfg)


def to_yaml(cfg: RunConfig) -> str:
    return yaml.safe_dump(to_dict(cfg), sort_keys=False, allow_unicode=True)


def read_yaml(path: Path) -> dict[str, Any]:
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except FileNotFoundError:
        raise StudioError("file.missing", file=str(path)) from None
    except yaml.YAMLError as exc:
        raise StudioError("config.bad_yaml", file=path.name, detail=str(exc).splitlines()[0]) from None
    if not isinstance(data, dict):
        raise StudioError("config.not_mapping", file=path.name)
    return data


def load(path: Path) -> RunConfig:
    """A config file as the worker and `studio train` read it; any error stops with its sentence."""
    cfg, issues = from_dict(read_yaml(path), path.name)
    errors = [i for i in issues if i.level == "error"]
    if errors:
        raise StudioError("run.invalid", count=len(errors), first=errors[0].text())
    return cfg
