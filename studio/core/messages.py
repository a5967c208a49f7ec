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
    "file.bad_columnar": ("{file}: cannot be read as a table ({detail}).", "{file}：无法作为表格读取（{detail}）。"),
    "folder.mixed": ("{folder}/: a dataset folder must hold files of one supported type; found {found} (supported: {expected}).", "{folder}/：数据集文件夹中的文件必须是同一种受支持的类型；实际有 {found}（支持：{expected}）。"),
    "path.outside_data": ("{path}: the file must be inside the data folder {root}.", "{path}：文件必须位于数据文件夹 {root} 之内。"),
    "path.model_outside": ("{field}: '{path}' is refused: a model must be a folder under models/, a run's output or a hub id owner/name (allowed folders: {roots}); the operator can add folders with --model-dir.", "{field}：“{path}”被拒绝：模型必须是 models/ 下的文件夹、某次运行的输出，或模型仓库 ID owner/name（允许的文件夹：{roots}）；管理员可用 --model-dir 添加文件夹。"),
    "input.not_text": ("{field}: expected text.", "{field}：应为文本。"),
    "input.too_long": ("{field}: {length} characters is too long; at most {limit}.", "{field}：{length} 个字符太长；最多 {limit} 个。"),
    "input.control": ("{field}: contains control characters (such as NUL); expected plain text.", "{field}：包含控制字符（如 NUL）；应为普通文本。"),
    "input.bad_name": ("{field}: '{value}' is not a usable name; use letters, digits, - _ . (at most 100 characters, not starting with '.' or '-').", "{field}：“{value}”不能用作名称；请使用字母、数字、- _ .（最多 100 个字符，不能以“.”或“-”开头）。"),
    "input.refused": ("The server refused a value: {detail}", "服务器拒绝了一个值：{detail}"),
    "path.outside": ("{path}: the path is outside the workspace {root}.", "{path}：路径不在工作区 {root} 之内。"),
    # registry and conversion
    "registry.bad": ("{file}: expected a JSON object mapping dataset names to entries ({detail}).", "{file}：应为“数据集名 → 配置”的 JSON 对象（{detail}）。"),
    "registry.unknown": ("Dataset '{name}' is not registered in {file}.", "数据集“{name}”未在 {file} 中注册。"),
    "registry.remote": ("Dataset '{name}' lives on a hub or cloud and cannot be loaded offline.", "数据集“{name}”位于模型仓库或云端，离线时无法加载。"),
    "registry.bad_formatting": ("Dataset '{name}': formatting '{value}' is not one of {expected}.", "数据集“{name}”：formatting “{value}” 不在 {expected} 之中。"),
    "registry.bad_block": ("Dataset '{name}': '{key}' must map names to column names (text).", "数据集“{name}”：“{key}”应把名称映射到列名（文本）。"),
    "registry.exists": ("Dataset '{name}' is already registered in {file}; choose another name or confirm replacing it.", "数据集“{name}”已在 {file} 中注册；请换一个名称，或确认替换。"),
    "registry.outside": ("Dataset '{name}': its file {file} lies outside the data folder; the operator can allow its folder with --data-dir.", "数据集“{name}”：其文件 {file} 位于数据文件夹之外；管理员可用 --data-dir 允许该文件夹。"),
    "registry.ranking": ("Dataset '{name}' holds preference pairs (ranking) for DPO / reward training; supervised fine-tuning needs a dataset with one answer per prompt.", "数据集“{name}”是用于 DPO / 奖励模型训练的偏好数据（ranking）；监督微调需要每个提示只有一个回答的数据集。"),
    "detect.roles_guessed": ("Role names proposed from who speaks first: '{user}' → user, '{assistant}' → assistant (change them below if that is wrong).", "根据谁先发言推测了角色名：“{user}” → 用户，“{assistant}” → 助手（如不对请在下方修改）。"),
    "detect.media_string": ("Column '{column}' holds a single path per row, not a list; it will be wrapped in a list at conversion time (your file is not changed).", "列“{column}”每行是单个路径而不是列表；转换时会自动包装为列表（不会修改你的文件）。"),
    "detect.no_placeholder": ("{rows} of the first {total} rows with '{column}' have no {tag} placeholder in their text; the fix puts one per file before the first user turn at conversion time (your file is not changed).", "前 {total} 行含“{column}”的数据中有 {rows} 行文本里没有 {tag} 占位符；修复会在转换时按文件数在第一轮用户消息之前加上（不会修改你的文件）。"),
    "mapping.unknown_column": ("Column '{column}' (mapped as {role}) is not in {file}; its columns are: {found}.", "列“{column}”（映射为 {role}）不在 {file} 中；该文件的列为：{found}。"),
    "mapping.required": ("{role}: choose the column that holds it.", "{role}：请选择包含它的列。"),
    "convert.missing_column": ("{file} row {row}: column '{column}' is missing (mapped as {role}); the row has: {found}.", "{file} 第 {row} 行：缺少列“{column}”（映射为 {role}）；该行的列为：{found}。"),
    "convert.missing_key": ("{file} row {row}: message {index} has no '{key}' key; it has: {found}.", "{file} 第 {row} 行：第 {index} 条消息没有“{key}”键；它有：{found}。"),
    "convert.role_order": ("{file} row {row}: message {index} is from '{role}' where {expected} was expected (turns must alternate).", "{file} 第 {row} 行：第 {index} 条消息来自“{role}”，此处应为 {expected}（对话须交替进行）。"),
    "convert.odd_count": ("{file} row {row}: {count} messages; expected pairs ending with an answer.", "{file} 第 {row} 行：共 {count} 条消息；应为成对出现并以回答结尾。"),
    "convert.no_messages": ("{file} row {row}: the conversation has no messages.", "{file} 第 {row} 行：对话中没有消息。"),
    "convert.empty_prompt": ("{file} row {row}: the prompt (column '{column}') is empty.", "{file} 第 {row} 行：提示（列“{column}”）为空。"),
    "convert.empty_text": ("{file} row {row}: the text (column '{column}') is empty.", "{file} 第 {row} 行：文本（列“{column}”）为空。"),
    "convert.media_not_list": ("{file} row {row}: column '{column}' is one path, not a list of paths; switch on “wrap a single path in a list” to accept it.", "{file} 第 {row} 行：列“{column}”是单个路径而不是路径列表；开启“将单个路径包装为列表”即可接受。"),
    "convert.media_count": ("{file} row {row}: {tags} {tag} placeholder(s) in the text but {files} file(s) in '{column}'.", "{file} 第 {row} 行：文本中有 {tags} 个 {tag} 占位符，但“{column}”中有 {files} 个文件。"),
    "convert.bad_type": ("{file} row {row}: column '{column}' should be {expected}, found {found}.", "{file} 第 {row} 行：列“{column}”应为 {expected}，实际是 {found}。"),
    "convert.bad_role": ("{file} row {row}: message {index} has role '{role}'; expected one of {expected}.", "{file} 第 {row} 行：第 {index} 条消息的角色为“{role}”，应为 {expected} 之一。"),
    "convert.empty": ("{file} row {row}: the answer is empty; nothing to learn from.", "{file} 第 {row} 行：回答为空，没有可供学习的内容。"),
    "data.no_rows": ("Dataset '{name}': none of its {total} rows is usable; most frequent reasons: {reason}", "数据集“{name}”：{total} 行中没有可用的行；最常见的原因：{reason}"),
    "advice.val_share": ("{rows} usable rows: hold out a validation share of {share} to watch for overfitting.", "{rows} 条可用数据：建议留出 {share} 作为验证集，以观察是否过拟合。"),
    "advice.few_rows": ("Only {rows} rows: teaching a 7B model domain knowledge usually takes at least about a thousand; style or identity tuning can work with fewer.", "只有 {rows} 条：让 7B 模型学会领域知识通常至少需要约一千条；风格或自我认知微调可以更少。"),
    "advice.cutoff_capped": ("Suggested cutoff_len: {cutoff}, the model's context length (99% of rows are at most {p99} tokens: longer rows are cut).", "建议 cutoff_len：{cutoff}，即模型的上下文长度（99% 的数据不超过 {p99} 个 token：更长的行会被截断）。"),
    "advice.cutoff": ("Suggested cutoff_len: {cutoff} (99% of rows are at most {p99} tokens).", "建议 cutoff_len：{cutoff}（99% 的数据不超过 {p99} 个 token）。"),
    "data.upload_name": ("{name}: a file name may not contain a path or start with a dot.", "{name}：文件名不能包含路径或以点开头。"),
    "data.tokenizer": ("{path}: no tokenizer could be loaded from this folder ({detail}).", "{path}：无法从该文件夹加载分词器（{detail}）。"),
    # config
    "config.unknown_key": ("{source}: unknown setting '{key}'.", "{source}：未知的设置项“{key}”。"),
    "config.bad_type": ("{field}: expected {expected}, got {value!r}.", "{field}：应为 {expected}，实际是 {value!r}。"),
    "config.out_of_range": ("{field}: {value} is outside the allowed range {low} to {high}.", "{field}：{value} 超出允许范围 {low} 到 {high}。"),
    "config.bad_choice": ("{field}: '{value}' is not one of {choices}.", "{field}：“{value}”不在 {choices} 之中。"),
    "config.bad_yaml": ("{file}: not valid YAML ({detail}).", "{file}：不是合法的 YAML（{detail}）。"),
    "config.not_mapping": ("{file}: expected a mapping of setting names to values.", "{file}：应为“设置名 → 值”的映射。"),
    "config.unknown_preset": ("Preset '{name}' does not exist; available: {available}.", "预设“{name}”不存在；可用的有：{available}。"),
    "config.model_missing": ("model_name_or_path: '{path}' is neither a model folder (with config.json) nor usable offline.", "model_name_or_path：“{path}”既不是模型文件夹（含 config.json），离线时也无法使用。"),
    "config.model_not_id": ("model_name_or_path: '{path}' is neither a folder in the workspace nor a hub id such as owner/name.", "model_name_or_path：“{path}”既不是工作区中的文件夹，也不是 owner/name 这样的模型仓库 id。"),
    "config.model_hub_offline": ("model_name_or_path: '{path}' is not a local folder and not in this machine's Hugging Face cache; it would have to be downloaded, but the hub is switched off here (HF_HUB_OFFLINE=1).", "model_name_or_path：“{path}”不是本地文件夹，也不在本机的 Hugging Face 缓存中；需要下载，但这里关闭了模型仓库（HF_HUB_OFFLINE=1）。"),
    "config.model_hub_unreachable": ("model_name_or_path: '{path}' is not a local folder and not in this machine's Hugging Face cache, and the hub ({url}) cannot be reached from here ({reason}).", "model_name_or_path：“{path}”不是本地文件夹，也不在本机的 Hugging Face 缓存中，而且从这里连不上模型仓库（{url}）（{reason}）。"),
    "config.media_unseen": ("dataset: '{name}' has {media} (column {columns}), but the model {model} reads text only and would never see them. Choose a model that reads {media}, or tick text_only to train on the text alone (placeholders such as <image> are removed).", "dataset：“{name}”包含 {media}（列 {columns}），但模型 {model} 只能读文字，永远看不到它们。请选择能读取 {media} 的模型，或勾选 text_only 只用文字训练（会去掉 <image> 等占位符）。"),
    "config.media_text_only": ("text_only: the {media} of '{name}' are left out and their placeholders removed; {model} trains on the text alone.", "text_only：“{name}”中的 {media} 不参与训练，占位符已去掉；{model} 只用文字训练。"),
    "run.model_fetch": ("The model '{path}' could not be read or downloaded: {reason}", "无法读取或下载模型“{path}”：{reason}"),
    "config.model_creating": ("model_name_or_path: the demo model is still being created; try again in a few seconds.", "model_name_or_path：演示模型仍在创建中，请几秒后再试。"),
    "config.no_gpu": ("precision: {value} needs a CUDA GPU, and none is visible.", "precision：{value} 需要 CUDA GPU，但当前没有可用的 GPU。"),
    "config.alpha_low": ("lora_alpha: {alpha} is below lora_rank {rank}; the adapter will learn slowly (alpha = 2 x rank is usual).", "lora_alpha：{alpha} 小于 lora_rank {rank}，适配器学习会很慢（通常 alpha = 2 × rank）。"),
    "config.history_and_prompt": ("mask_history and train_on_prompt together: mask_history learns only the last answer, train_on_prompt learns every prompt as well; turn one of them off.", "mask_history 与 train_on_prompt 不能同时开启：前者只学习最后一个回答，后者还要学习所有提示；请关闭其中一个。"),
    "config.cutoff_over_limit": ("cutoff_len: {value} is more than the model's limit of {limit} tokens (max_position_embeddings in {model}/config.json).", "cutoff_len：{value} 超过模型的上限 {limit} 个 token（见 {model}/config.json 中的 max_position_embeddings）。"),
    "template.auto_no_chat": ("template: 'auto' needs the model's own chat template, and {model} has none (no chat_template in its tokenizer files); choose a named template such as {proposal}.", "template：“auto”需要模型自带的对话模板，而 {model} 没有（分词器文件中没有 chat_template）；请选择一个具名模板，例如 {proposal}。"),
    "template.auto_unsplittable": ("template: the chat template of {model} cannot be split into turns ({reason}), so which tokens to train cannot be told; choose a named template.", "template：{model} 的对话模板无法按轮次拆分（{reason}），无法判断哪些 token 需要训练；请选择一个具名模板。"),
    "template.missing_tokens": ("template: '{template}' writes {tokens} as single special tokens, but the tokenizer of {model} does not have them; choose the template of this model's family (suggested: {proposal}).", "template：“{template}”需要 {tokens} 作为单个特殊 token，但 {model} 的分词器中没有；请选择该模型系列的模板（建议：{proposal}）。"),
    "template.no_eos": ("template: '{template}' ends answers with the EOS token, and the tokenizer of {model} has none.", "template：“{template}”用 EOS token 结束回答，但 {model} 的分词器没有 EOS token。"),
    "template.no_stop": ("template: '{template}' trains no stop token after answers; the tuned model will not learn when to stop.", "template：“{template}”在回答后不训练停止 token；微调后的模型学不会何时停止。"),
    "template.mismatch": ("template: '{template}' is chosen, but {model} looks like '{proposal}' ({why}); training in another format than the model's own makes it answer worse.", "template：选择的是“{template}”，但 {model} 看起来应使用“{proposal}”（{why}）；用与模型不同的格式训练会让它回答得更差。"),
    "why.family": ("its model type is of that family", "其模型类型属于该系列"),
    "why.tokens": ("its tokenizer has that template's special tokens", "其分词器含有该模板的特殊 token"),
    "why.chat_template": ("it has its own chat template", "它自带对话模板"),
    "why.none": ("it has no chat template: a base model", "它没有对话模板：是基础模型"),
    "learn.no_row": ("Dataset '{name}' has no row {row}.", "数据集“{name}”没有第 {row} 行。"),
    "encode.bad_tools": ("the tools column is not the JSON list of tool descriptions the template needs", "tools 列不是模板所需的工具描述 JSON 列表"),
    "encode.bad_function": ("a function call is not JSON with 'name' and 'arguments'", "函数调用不是含“name”和“arguments”的 JSON"),
    "encode.no_answer_left": ("no answer token is left within cutoff_len", "在 cutoff_len 之内没有剩下任何回答 token"),
    "auto.unsplittable": ("the chat template cannot be split into turns here", "对话模板在此处无法按轮次拆分"),
    "config.bad_host": ("main_process_ip: '{value}' is not a host name or an IP address.", "main_process_ip：“{value}”不是主机名或 IP 地址。"),
    "config.browser_rank": ("machine_rank: {rank} is refused from the page: the studio's machine is always the main machine (rank 0); start the other machines with the commands shown.", "machine_rank：页面上不能设为 {rank}：工作室所在的机器总是主机（序号 0）；其他机器请用显示的命令启动。"),
    "config.remote_code_hub": ("{path}: with model code allowed, a hub model must be in the local cache first, so that its code can be checked before it runs.", "{path}：允许运行模型代码时，仓库模型须先在本地缓存中，以便在运行前检查其代码。"),
    "config.no_safetensors": ("{path}: no .safetensors weights in the model folder (pickle files such as pytorch_model.bin are never loaded); convert them to safetensors first.", "{path}：模型文件夹中没有 .safetensors 权重（pytorch_model.bin 等 pickle 文件不会被加载）；请先转换为 safetensors。"),
    "config.remote_code_outside": ("{path}: {file} names code outside the model folder ({ref}); only modules inside the folder may run.", "{path}：{file} 引用了模型文件夹之外的代码（{ref}）；只能运行该文件夹内的模块。"),
    "config.remote_code_off": ("{path}: the model needs its own Python code ({file}: auto_map), and running model code is off; the operator can allow it with --trust-remote-code.", "{path}：该模型需要运行自带的 Python 代码（{file}：auto_map），但运行模型代码已关闭；管理员可用 --trust-remote-code 允许。"),
    "config.remote_code": ("trust_remote_code: on; the model folder may run its own Python code.", "trust_remote_code：已开启；模型文件夹中的 Python 代码可能会被执行。"),
    "config.quant_needs_lora": ("quantization: a quantized base can only train a LoRA adapter, not method '{method}'.", "quantization：量化的底座模型只能训练 LoRA 适配器，不能用“{method}”方法。"),
    "config.patience_needs_val": ("early_stopping_patience: early stopping watches the eval loss; set val_size above 0.", "early_stopping_patience：早停依据验证损失；请把 val_size 设为大于 0。"),
    "config.save_eval_steps": ("save_steps: {save} must be a multiple of eval_steps ({eval}) so that the best evaluation has a checkpoint to keep.", "save_steps：{save} 必须是 eval_steps（{eval}）的倍数，最佳评估才有检查点可保留。"),
    "config.bad_rank": ("machine_rank: {rank} must be below the number of machines ({machines}).", "machine_rank：{rank} 必须小于机器数（{machines}）。"),
    "config.need_main_ip": ("main_process_ip: with several machines, give the address of machine 0.", "main_process_ip：多台机器时须填写 0 号机器的地址。"),
    "config.needs_gpu": ("{field}: '{value}' needs a CUDA GPU, and none is visible.", "{field}：“{value}”需要 CUDA GPU，但当前没有可用的 GPU。"),
    "config.needs_package": ("{field}: '{value}' needs the Python package '{package}' (pip install {package}).", "{field}：“{value}”需要 Python 包“{package}”（pip install {package}）。"),
    "config.cache_outside": ("cache_dir: '{value}' is outside the workspace; only the server's --cache-dir may point elsewhere.", "cache_dir：“{value}”在工作区之外；只有服务器的 --cache-dir 可以指向别处。"),
    "config.auto_cutoff": ("cutoff_len: 0 was set to {value}, the 99th percentile of the dataset's lengths rounded up to 64.", "cutoff_len：0 已设为 {value}，即数据集长度的第 99 百分位，向上取整到 64。"),
    # runs
    "run.unknown": ("Run '{run}' does not exist in {root}.", "运行“{run}”不存在于 {root}。"),
    "run.not_running": ("Run '{run}' is not running (state: {state}).", "运行“{run}”未在运行（状态：{state}）。"),
    "run.killed": ("The worker process ended without reporting (signal {signal}).", "训练进程未报告即退出（信号 {signal}）。"),
    "run.vanished": ("The worker process is gone without reporting; last log line: {line}", "训练进程已消失且未报告；日志最后一行：{line}"),
    "run.exit_code": ("The worker exited with code {code}; last log line: {line}", "训练进程以代码 {code} 退出；日志最后一行：{line}"),
    "run.aborted": ("Aborted by the user.", "已被用户中止。"),
    "run.no_adapter": ("Run '{run}' has no finished adapter yet.", "运行“{run}”还没有训练完成的适配器。"),
    "run.exists": ("run_name: a run named '{run}' already exists; pick another name, or resume that run.", "run_name：名为“{run}”的运行已存在；请换一个名称，或恢复该运行。"),
    "run.active": ("Run '{run}' is already {state}; it cannot be started again.", "运行“{run}”已处于{state}状态，不能再次启动。"),
    "run.no_checkpoint": ("Run '{run}' has no checkpoint to resume from (checkpoints are written every save_steps).", "运行“{run}”没有可恢复的检查点（每 save_steps 步写一个检查点）。"),
    "run.cannot_resume": ("Run '{run}' is {state}; only an aborted or failed run can be resumed.", "运行“{run}”处于{state}状态；只有中止或失败的运行可以恢复。"),
    "run.delete_active": ("Run '{run}' is running; abort it before deleting it.", "运行“{run}”正在运行；请先中止再删除。"),
    "run.disk_full": ("The disk is full: could not write {path}. Earlier checkpoints are intact; free space and resume.", "磁盘已满：无法写入 {path}。之前的检查点完好；释放空间后可恢复训练。"),
    "run.abort_killed": ("Aborted; the worker did not stop within {seconds} s of SIGTERM and was killed.", "已中止；训练进程在收到 SIGTERM 后 {seconds} 秒内未停止，已被强制结束。"),
    "run.cancelled": ("Removed from the queue before it started.", "在开始前已从队列中移除。"),
    "run.invalid": ("The configuration has {count} error(s): {first}", "配置有 {count} 个错误：{first}"),
    # chat
    "chat.bad_setting": ("{field}: {value} is outside {low} to {high}.", "{field}：{value} 超出 {low} 到 {high}。"),
    "chat.not_loaded": ("No model is loaded; choose a run and press Load.", "尚未加载模型；请选择一个运行并点击“加载”。"),
    "chat.empty": ("Type a message first.", "请先输入消息。"),
    "chat.no_checkpoint": ("Run '{run}' has no {checkpoint} (deleted, or kept out by save_total_limit).", "运行“{run}”没有 {checkpoint}（已删除，或因 save_total_limit 未保留）。"),
    "chat.bad_weights": ("weights: '{value}' is neither 'final' nor a checkpoint-N folder.", "权重：“{value}”既不是“final”也不是 checkpoint-N 文件夹。"),
    "chat.no_model": ("model: give a model folder (and optionally an adapter folder), or choose a run.", "模型：请填写模型文件夹（可选适配器文件夹），或选择一个运行。"),
    "chat.model_missing": ("model: {model} is neither a folder here nor a model in the local hub cache (nothing is downloaded at chat time).", "模型：{model} 既不是本机文件夹，也不在本地 hub 缓存中（对话时不会下载任何东西）。"),
    "chat.no_weights": ("{folder} holds no weights: expected {expected} (safetensors only).", "{folder} 中没有权重：应有 {expected}（仅支持 safetensors）。"),
    "chat.not_adapter": ("{folder} is not a LoRA adapter: adapter_config.json is missing or unreadable.", "{folder} 不是 LoRA 适配器：缺少 adapter_config.json 或无法读取。"),
    "chat.base_missing": ("The base model {base} is not found; the adapter {adapter} expects {expected}.", "找不到基础模型 {base}；适配器 {adapter} 需要的基础模型是 {expected}。"),
    "chat.wrong_base": ("The adapter {adapter} does not fit {base} ({layer}: model weight {found}); it was trained on {expected}.", "适配器 {adapter} 与 {base} 不匹配（{layer}：模型权重 {found}）；它是在 {expected} 上训练的。"),
    "chat.compare_untuned": ("Compare needs tuned weights: load a run (or a model with an adapter) to compare with its base.", "对比需要微调后的权重：请加载一个运行（或带适配器的模型）再与其基础模型对比。"),
    "chat.memory_busy": ("Run '{run}' is training on this machine's {device} and holds {used} GiB; this model needs about {need} GiB; {free} GiB are free.", "运行“{run}”正在本机 {device} 上训练，占用 {used} GiB；此模型约需 {need} GiB；当前空闲 {free} GiB。"),
    "chat.memory_short": ("It will not fit: wait for the run to finish, abort it, or choose a smaller model.", "放不下：请等待训练结束、中止它，或选择更小的模型。"),
    "chat.step_tokenizer": ("Loading the tokenizer from {path}…", "正在从 {path} 加载分词器……"),
    "chat.step_weights": ("Loading the weights of {path}…", "正在加载 {path} 的权重……"),
    "chat.step_unsloth": ("Loading {path} with unsloth…", "正在用 unsloth 加载 {path}……"),
    "chat.unsloth_unavailable": ("backend: unsloth needs the unsloth package and a CUDA GPU; use the transformers backend.", "后端：unsloth 需要安装 unsloth 包并有 CUDA GPU；请使用 transformers 后端。"),
    "chat.step_adapter": ("Applying the adapter {path}…", "正在应用适配器 {path}……"),
    "chat.step_ready": ("Ready in {seconds} s.", "加载完成，用时 {seconds} 秒。"),
    "chat.stats": ("first token {ttft} s · {tps} tokens/s · {n} tokens", "首 token {ttft} 秒 · {tps} token/秒 · 共 {n} 个 token"),
    "chat.unloaded": ("Unloaded; the process now holds {rss} MiB.", "已卸载；进程当前占用 {rss} MiB。"),
    "chat.nothing_loaded": ("Nothing was loaded.", "没有已加载的模型。"),
    # export
    "export.not_empty": ("{out} exists and is not empty; tick “replace” (or pass --overwrite) to replace it, or choose another folder.", "{out} 已存在且不为空；勾选“替换”（或使用 --overwrite）以替换它，或选择其他文件夹。"),
    "export.outside": ("{out}: exports are written under {root}; choose a folder name there.", "{out}：导出只能写在 {root} 之下；请在其中选择一个文件夹名。"),
    "export.not_export": ("{out} exists and was not written by an export; it is never replaced. Choose another folder.", "{out} 已存在且不是导出生成的；它不会被替换。请选择其他文件夹。"),
    "export.not_folder": ("{out} is a file, not a folder; choose another output folder.", "{out} 是文件而不是文件夹；请选择其他输出文件夹。"),
    "export.step_base": ("Loading the base model {path}…", "正在加载基础模型 {path}……"),
    "export.step_merge": ("Merging the adapter {path} into the base weights…", "正在把适配器 {path} 合并进基础权重……"),
    "export.step_write": ("Writing safetensors shards (at most {shard} each)…", "正在写入 safetensors 分片（每片至多 {shard}）……"),
    "export.step_tokenizer": ("Writing the tokenizer, chat template and generation config…", "正在写入分词器、对话模板和生成配置……"),
    "export.step_done": ("Exported to {out}: {files} files, {mb} MiB, in {seconds} s.", "已导出到 {out}：{files} 个文件，{mb} MiB，用时 {seconds} 秒。"),
    # command line
    "cli.bad_pair": ("{flag} {value}: expected KEY=VALUE.", "{flag} {value}：应为 KEY=VALUE 的形式。"),
    # server
    "server.login_needed": ("Binding to {host} exposes the studio to the network; set a login with --auth USER:PASS or STUDIO_AUTH.", "绑定到 {host} 会把工作室暴露到网络上；请用 --auth 用户名:密码 或 STUDIO_AUTH 设置登录。"),
    "server.bad_auth": ("--auth: expected USER:PASS with neither part empty.", "--auth：应为 用户名:密码，两部分都不能为空。"),
    "server.port_busy": ("Cannot listen on {host}:{port} ({detail}); choose another --port or --host.", "无法在 {host}:{port} 上监听（{detail}）；请换一个 --port 或 --host。"),
    "server.bad_host": ("This server answers only the host names {allowed}; start it with --allowed-host {host} to allow this one.", "此服务器只响应主机名 {allowed}；如需允许此名称，请以 --allowed-host {host} 启动。"),
    "server.bad_origin": ("A request from the page {origin} is refused: only this studio's own pages may send it.", "来自页面 {origin} 的请求被拒绝：只有本工作室自己的页面可以发送。"),
    "server.login_first": ("Log in first.", "请先登录。"),
    "server.login_wrong": ("Wrong user name or password.", "用户名或密码错误。"),
    "server.login_wait": ("Too many failed logins from this address; try again in {seconds} s.", "此地址登录失败次数过多；请在 {seconds} 秒后重试。"),
    "server.too_large": ("The upload is {size}; at most {limit} is accepted (the operator sets it with --max-upload).", "上传大小为 {size}；最多接受 {limit}（管理员可用 --max-upload 设置）。"),
    "server.body_too_large": ("The request is {size}; at most {limit} is accepted for a call (files go through the upload).", "请求大小为 {size}；一次调用最多接受 {limit}（文件请通过上传）。"),
    "server.remote_code": ("Model code is allowed to run (--trust-remote-code): only code files inside each model folder are used.", "已允许运行模型代码（--trust-remote-code）：只使用各模型文件夹内的代码文件。"),
    "internal": ("Internal error; the details are in the server log ({where}).", "内部错误；详情见服务器日志（{where}）。"),
}


class Both(str):
    """A field value that is itself a sentence in both languages (it serializes as its English text)."""

    zh: str

    def __new__(cls, en: str, zh: str) -> Both:
        obj = super().__new__(cls, en)
        obj.zh = zh
        return obj

    def text(self, lang: str) -> str:
        return self.zh if lang == "zh" else str(self)


def both(key: str, /, **fields: object) -> Both:
    """The sentence in both languages, for code that reports progress before it knows who reads it."""
    return Both(render(key, "en", **fields), render(key, "zh", **fields))


def render(key: str, lang: str = "en", /, **fields: object) -> str:
    """The sentence for `key` in `lang` ('en' or 'zh'), with its fields filled in."""
    en, zh = MESSAGES[key]
    values = {k: v.text(lang) if isinstance(v, Both) else v for k, v in fields.items()}
    return (zh if lang == "zh" else en).format(**values)
