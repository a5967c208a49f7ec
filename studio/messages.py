"""Catalogue of user-facing error and status sentences: key -> (English, Chinese)."""

from __future__ import annotations

MESSAGES: dict[str, tuple[str, str]] = {
    # data files
    "file.missing": ("{file}: file not found.", "{file}：文件不存在。"),
    "file.not_utf8": ("{file}: not UTF-8 text ({detail}).", "{file}：不是 UTF-8 文本（{detail}）。"),
    "file.empty": ("{file}: the file is empty; expected at least one row.", "{file}：文件为空，至少需要一行数据。"),
    "file.bad_json": ("{file}: not valid JSON at line {line} ({detail}).", "{file}：第 {line} 行不是合法的 JSON（{detail}）。"),
    "file.bad_jsonl": ("{file} line {line}: not valid JSON ({detail}).", "{file} 第 {line} 行：不是合法的 JSON（{detail}）。"),
    "file.not_rows": ("{file}: expected a JSON list of objects, found {found}.", "{file}：应为对象组成的 JSON 列表，实际是 {found}。"),
    "file.row_not_object": ("{file} row {row}: expected a JSON object, found {found}.", "{file} 第 {row} 行：应为 JSON 对象，实际是 {found}。"),
    "file.unsupported": ("{file}: unsupported file type '{ext}'; expected one of {expected}.", "{file}：不支持的文件类型“{ext}”，应为 {expected} 之一。"),
    "path.outside": ("{path}: the path is outside the workspace {root}.", "{path}：路径不在工作区 {root} 之内。"),
    # registry and conversion
    "registry.bad": ("{file}: expected a JSON object mapping dataset names to entries ({detail}).", "{file}：应为“数据集名 → 配置”的 JSON 对象（{detail}）。"),
    "registry.unknown": ("Dataset '{name}' is not registered in {file}.", "数据集“{name}”未在 {file} 中注册。"),
    "registry.remote": ("Dataset '{name}' lives on a hub or cloud and cannot be loaded offline.", "数据集“{name}”位于模型仓库或云端，离线时无法加载。"),
    "registry.bad_formatting": ("Dataset '{name}': formatting '{value}' is not one of {expected}.", "数据集“{name}”：formatting “{value}” 不在 {expected} 之中。"),
    "convert.missing_column": ("{file} row {row}: column '{column}' is missing (mapped as {role}).", "{file} 第 {row} 行：缺少列“{column}”（映射为 {role}）。"),
    "convert.bad_type": ("{file} row {row}: column '{column}' should be {expected}, found {found}.", "{file} 第 {row} 行：列“{column}”应为 {expected}，实际是 {found}。"),
    "convert.bad_role": ("{file} row {row}: message {index} has role '{role}'; expected one of {expected}.", "{file} 第 {row} 行：第 {index} 条消息的角色为“{role}”，应为 {expected} 之一。"),
    "convert.empty": ("{file} row {row}: no assistant answer to learn from.", "{file} 第 {row} 行：没有可供学习的助手回答。"),
    "data.no_rows": ("Dataset '{name}': none of its {total} rows is usable; the first problem: {reason}", "数据集“{name}”：{total} 行中没有可用的行；第一个问题：{reason}"),
    # config
    "config.unknown_key": ("{source}: unknown setting '{key}'.", "{source}：未知的设置项“{key}”。"),
    "config.bad_type": ("{field}: expected {expected}, got {value!r}.", "{field}：应为 {expected}，实际是 {value!r}。"),
    "config.out_of_range": ("{field}: {value} is outside the allowed range {low} to {high}.", "{field}：{value} 超出允许范围 {low} 到 {high}。"),
    "config.bad_choice": ("{field}: '{value}' is not one of {choices}.", "{field}：“{value}”不在 {choices} 之中。"),
    "config.bad_yaml": ("{file}: not valid YAML ({detail}).", "{file}：不是合法的 YAML（{detail}）。"),
    "config.not_mapping": ("{file}: expected a mapping of setting names to values.", "{file}：应为“设置名 → 值”的映射。"),
    "config.unknown_preset": ("Preset '{name}' does not exist; available: {available}.", "预设“{name}”不存在；可用的有：{available}。"),
    "config.model_missing": ("model_name_or_path: '{path}' is neither a model folder (with config.json) nor usable offline.", "model_name_or_path：“{path}”既不是模型文件夹（含 config.json），离线时也无法使用。"),
    "config.model_hub_offline": ("model_name_or_path: '{path}' is not a local folder; it will be fetched from the hub, which is off (HF_HUB_OFFLINE=1).", "model_name_or_path：“{path}”不是本地文件夹，需要从模型仓库下载，但当前处于离线模式（HF_HUB_OFFLINE=1）。"),
    "config.model_creating": ("model_name_or_path: the demo model is still being created; try again in a few seconds.", "model_name_or_path：演示模型仍在创建中，请几秒后再试。"),
    "config.no_gpu": ("precision: {value} needs a CUDA GPU, and none is visible.", "precision：{value} 需要 CUDA GPU，但当前没有可用的 GPU。"),
    "config.alpha_low": ("lora_alpha: {alpha} is below lora_rank {rank}; the adapter will learn slowly (alpha = 2 x rank is usual).", "lora_alpha：{alpha} 小于 lora_rank {rank}，适配器学习会很慢（通常 alpha = 2 × rank）。"),
    "config.remote_code": ("trust_remote_code: on; the model folder may run its own Python code.", "trust_remote_code：已开启；模型文件夹中的 Python 代码可能会被执行。"),
    # runs
    "run.unknown": ("Run '{run}' does not exist in {root}.", "运行“{run}”不存在于 {root}。"),
    "run.not_running": ("Run '{run}' is not running (state: {state}).", "运行“{run}”未在运行（状态：{state}）。"),
    "run.killed": ("The worker process ended without reporting (signal {signal}).", "训练进程未报告即退出（信号 {signal}）。"),
    "run.vanished": ("The worker process is gone without reporting; last log line: {line}", "训练进程已消失且未报告；日志最后一行：{line}"),
    "run.exit_code": ("The worker exited with code {code}; last log line: {line}", "训练进程以代码 {code} 退出；日志最后一行：{line}"),
    "run.aborted": ("Aborted by the user.", "已被用户中止。"),
    "run.no_adapter": ("Run '{run}' has no finished adapter yet.", "运行“{run}”还没有训练完成的适配器。"),
    "run.invalid": ("The configuration has {count} error(s): {first}", "配置有 {count} 个错误：{first}"),
    # chat
    "chat.bad_setting": ("{field}: {value} is outside {low} to {high}.", "{field}：{value} 超出 {low} 到 {high}。"),
    "chat.not_loaded": ("No model is loaded; choose a run and press Load.", "尚未加载模型；请选择一个运行并点击“加载”。"),
    "chat.empty": ("Type a message first.", "请先输入消息。"),
    # server
    "server.login_needed": ("Binding to {host} exposes the studio to the network; set a login with --auth USER:PASS or STUDIO_AUTH.", "绑定到 {host} 会把工作室暴露到网络上；请用 --auth 用户名:密码 或 STUDIO_AUTH 设置登录。"),
    "server.bad_auth": ("--auth: expected USER:PASS, got a value without ':'.", "--auth：应为 用户名:密码，但值中没有“:”。"),
    "internal": ("Internal error; the details are in the server log ({where}).", "内部错误；详情见服务器日志（{where}）。"),
}


def render(key: str, lang: str = "en", /, **fields: object) -> str:
    """The sentence for `key` in `lang` ('en' or 'zh'), with its fields filled in."""
    en, zh = MESSAGES[key]
    return (zh if lang == "zh" else en).format(**fields)
