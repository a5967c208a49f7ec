"""The run-config fields: defaults, bounds, choices and en/zh help. studio.core.config checks and reads them."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

GROUPS = ("model", "data", "method", "preference", "vision", "train", "eval", "output", "distributed")  # the Train form's
EVAL_GROUP = "evaluate"  # the Evaluate tab's own fields; a training run keeps their defaults
STAGES = ("sft", "dpo", "kto", "eval")
TRAIN_STAGES = ("sft", "dpo", "kto")  # what the Train form offers; eval jobs come from the Evaluate tab
PREFERENCE_STAGES = ("dpo", "kto")
PREF_LOSSES = ("sigmoid", "ipo", "hinge", "orpo", "simpo")
TRACKERS = ("none", "tensorboard", "wandb", "swanlab", "mlflow", "trackio")  # report_to: each only where installed
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
    stage: str = knob("sft", group="method", choices=STAGES,
        en=("Stage", "sft = learn the answers; dpo = learn from pairs of a chosen and a rejected answer (loss below); "
            "kto = learn from single answers tagged good or bad. dpo / kto usually start from an SFT run's adapter. "
            "(eval is the Evaluate tab's job.)"),
        zh=("阶段", "sft：学习回答；dpo：从“选中 / 拒绝”成对的回答中学习（损失见下）；kto：从标记为好或坏的单个回答中学习。"
            "dpo / kto 通常从一次 SFT 运行的适配器开始。（eval 由“评估”页发起。）"))
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
    # preference (stage dpo / kto; LLaMA-Factory's names and defaults)
    pref_loss: str = knob("sigmoid", group="preference", choices=PREF_LOSSES,
        en=("Preference loss (dpo)", "sigmoid = DPO; ipo and hinge are its variants; orpo and simpo need no reference "
            "model (and no adapter-off pass), using average log-probabilities."),
        zh=("偏好损失（dpo）", "sigmoid 即 DPO；ipo 和 hinge 是它的变体；orpo 与 simpo 不需要参考模型（也不需要关闭适配器的那次"
            "前向），使用平均对数概率。"))
    pref_beta: float = knob(0.1, group="preference", ge=0.001, le=100.0,
        en=("Beta", "How far the model may move from the reference (the starting model with the adapter off): lower "
            "= further. 0.1 is usual for DPO and KTO."),
        zh=("Beta", "模型可以偏离参考模型（关闭适配器后的起始模型）多远：越小偏离越多。DPO 与 KTO 通常取 0.1。"))
    pref_ftx: float = knob(0.0, group="preference", ge=0.0, le=100.0,
        en=("SFT loss mix", "Weight of the chosen answer's own (per-token) loss added to the preference loss: keeps "
            "the chosen answers likely, not only likelier than the rejected ones. 0 = pure preference loss."),
        zh=("SFT 损失混合", "把选中回答自身的（逐 token）损失按此权重加到偏好损失上：让选中回答保持高概率，而不只是比拒绝的更高。"
            "0 表示纯偏好损失。"))
    simpo_gamma: float = knob(0.5, group="preference", ge=0.0, le=100.0,
        en=("SimPO margin", "With simpo: the reward margin the chosen answer must win by."),
        zh=("SimPO 间隔", "使用 simpo 时：选中回答须胜出的奖励间隔。"))
    kto_chosen_weight: float = knob(1.0, group="preference", ge=0.0, le=100.0,
        en=("KTO good weight", "With kto: weight of the rows tagged good; raise it when they are fewer."),
        zh=("KTO 好样本权重", "使用 kto 时：标记为好的样本的权重；好样本较少时调高。"))
    kto_rejected_weight: float = knob(1.0, group="preference", ge=0.0, le=100.0,
        en=("KTO bad weight", "With kto: weight of the rows tagged bad."),
        zh=("KTO 坏样本权重", "使用 kto 时：标记为坏的样本的权重。"))
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
    report_to: str = knob("none", group="output", choices=TRACKERS,
        en=("Also log to", "An experiment tracker that receives the same metrics (the Runs tab keeps reading "
            "metrics.jsonl). Offered when its package is installed (pip install tensorboard, wandb, swanlab, "
            "mlflow or trackio). Logins come only from the environment (WANDB_API_KEY, SWANLAB_API_KEY, "
            "MLFLOW_TRACKING_URI …) and are never written into the run; local files go into the run folder."),
        zh=("同时记录到", "把同样的指标发送到实验追踪工具（“运行”页仍读取 metrics.jsonl）。已安装对应包时才提供"
            "（pip install tensorboard、wandb、swanlab、mlflow 或 trackio）。登录凭据只从环境变量读取（WANDB_API_KEY、"
            "SWANLAB_API_KEY、MLFLOW_TRACKING_URI 等），绝不写入运行记录；本地文件写在运行文件夹中。"))
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
