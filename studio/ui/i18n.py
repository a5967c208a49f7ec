"""UI text other than config fields (those live in the schema): key -> (English, Chinese)."""

from __future__ import annotations

STRINGS: dict[str, tuple[str, str]] = {
    # app
    "app.title": ("## Fine-tuning studio", "## 微调工作室"),
    "app.lang": ("Language", "语言"),
    "app.demo_pending": ("The demo model is being created (about 10 s on first start)…", "正在创建演示模型（首次启动约需 10 秒）……"),
    "app.demo_ready": ("", ""),
    "tab.data": ("Data", "数据"),
    "tab.train": ("Train", "训练"),
    "tab.runs": ("Runs", "运行"),
    "tab.chat": ("Chat", "对话"),
    # data tab
    "data.registry": ("Registered datasets (data/dataset_info.json)", "已注册的数据集（data/dataset_info.json）"),
    "data.col.name": ("name", "名称"),
    "data.col.format": ("format", "格式"),
    "data.col.file": ("file", "文件"),
    "data.col.state": ("state", "状态"),
    "data.select": ("Dataset", "数据集"),
    "data.raw": ("Raw rows (first 50)", "原始行（前 50 行）"),
    "data.row": ("Row to view as a conversation", "以对话形式查看的行号"),
    "data.conv": ("What the model sees (converted)", "模型看到的内容（转换后）"),
    "data.summary": ("{shown} rows shown; {problems} unusable", "显示 {shown} 行；{problems} 行不可用"),
    "data.state.ok": ("ok", "可用"),
    "data.state.missing": ("missing file", "文件缺失"),
    "data.state.remote": ("remote (hub)", "远程（模型仓库）"),
    # train tab
    "train.preset": ("Preset", "预设"),
    "train.group.model": ("Model", "模型"),
    "train.group.data": ("Data", "数据"),
    "train.group.lora": ("LoRA", "LoRA"),
    "train.group.train": ("Training", "训练"),
    "train.group.output": ("Output", "输出"),
    "train.batch": ("Effective batch = {b} per device × {a} accumulation × 1 process = **{e}** rows per step.",
                    "有效批大小 = 每设备 {b} × 梯度累积 {a} × 1 个进程 = 每步 **{e}** 行。"),
    "train.command": ("The command a launch runs, and its config.yaml", "启动时运行的命令及其 config.yaml"),
    "train.start": ("Start", "开始训练"),
    "train.started": ("Run **{run}** started. Watch it in the Runs tab.", "运行 **{run}** 已启动，请在“运行”页查看。"),
    "train.blocked": ("Not started — fix these first:", "未启动——请先修正以下问题："),
    "train.warnings": ("Warnings:", "警告："),
    # runs tab
    "runs.table": ("All runs", "全部运行"),
    "runs.col.run": ("run", "运行"),
    "runs.col.state": ("state", "状态"),
    "runs.col.model": ("model", "模型"),
    "runs.col.dataset": ("dataset", "数据集"),
    "runs.col.preset": ("preset", "预设"),
    "runs.col.started": ("started", "开始时间"),
    "runs.col.duration": ("duration", "时长"),
    "runs.col.loss": ("last loss", "最新 loss"),
    "runs.select": ("Run", "运行"),
    "runs.loss": ("Training loss", "训练 loss"),
    "runs.log": ("Log (tail of train.log)", "日志（train.log 末尾）"),
    "runs.abort": ("Abort", "中止"),
    "runs.none": ("No runs yet: start one in the Train tab.", "还没有运行：请在“训练”页开始一次训练。"),
    "runs.progress": ("step {step} / {total} · {pct}% · ETA {eta}", "第 {step} / {total} 步 · {pct}% · 预计剩余 {eta}"),
    "runs.command": ("Command", "命令"),
    "runs.error": ("Reason", "原因"),
    "state.queued": ("queued", "排队中"),
    "state.running": ("running", "运行中"),
    "state.finished": ("finished", "已完成"),
    "state.failed": ("failed", "失败"),
    "state.aborted": ("aborted", "已中止"),
    # chat tab
    "chat.run": ("Finished run", "已完成的运行"),
    "chat.load": ("Load", "加载"),
    "chat.loaded": ("Loaded: {what}", "已加载：{what}"),
    "chat.nothing": ("Nothing loaded yet.", "尚未加载模型。"),
    "chat.box": ("Chat", "对话"),
    "chat.input": ("Message", "消息"),
    "chat.placeholder": ("Ask something, e.g. “who are you?”", "问点什么，例如“你是谁？”"),
    "chat.send": ("Send", "发送"),
    "chat.clear": ("Clear", "清空"),
    "chat.system": ("System prompt", "系统提示词"),
    "chat.max_new_tokens": ("Max new tokens", "最大生成 token 数"),
    "chat.temperature": ("Temperature (0 = greedy)", "温度（0 表示贪心解码）"),
    "chat.stats": ("first token {ttft} s · {tps} tokens/s · {n} tokens", "首 token {ttft} 秒 · {tps} token/秒 · 共 {n} 个 token"),
}


def t(key: str, lang: str, **fields: object) -> str:
    en, zh = STRINGS[key]
    text = zh if lang == "zh" else en
    return text.format(**fields) if fields else text
