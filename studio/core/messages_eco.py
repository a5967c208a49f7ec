"""Sentences for GGUF / Ollama export, experiment trackers and the Hugging Face hub: key -> (English, Chinese)."""

from __future__ import annotations

ECO_MESSAGES: dict[str, tuple[str, str]] = {
    # experiment trackers
    "config.tracker_missing": ("report_to: the tracker '{tracker}' is not installed here; install it (pip install {tracker}) or choose none.", "report_to：此处未安装追踪工具“{tracker}”；请安装（pip install {tracker}）或选择 none。"),
    # the Hugging Face hub and cache
    "hub.bad_id": ("'{repo}' is not a hub model id; expected owner/name.", "“{repo}”不是模型仓库 ID；应为 owner/name。"),
    "hub.offline": ("{repo}: the hub is switched off here (HF_HUB_OFFLINE is set); nothing was downloaded or sent.", "{repo}：此处已关闭模型仓库访问（设置了 HF_HUB_OFFLINE）；未下载或发送任何内容。"),
    "hub.unreachable": ("{repo}: the hub at {url} cannot be reached from this machine ({detail}).", "{repo}：本机无法连接模型仓库 {url}（{detail}）。"),
    "hub.not_found": ("{repo} does not exist on {url} (or it is private and HF_TOKEN does not give access to it).", "{repo} 在 {url} 上不存在（或它是私有的，而 HF_TOKEN 无权访问）。"),
    "hub.gated": ("{repo} is gated: accept its terms on the hub, then set HF_TOKEN in the server's environment.", "{repo} 需要授权：请先在模型仓库网站上同意其条款，再在服务器环境中设置 HF_TOKEN。"),
    "hub.http": ("{repo}: the hub refused the request ({detail}).", "{repo}：模型仓库拒绝了请求（{detail}）。"),
    "hub.pickle_only": ("{repo} has only pickle weights ({files}); loading a pickle can run code, so only safetensors are downloaded. Choose a repository with safetensors.", "{repo} 只有 pickle 格式的权重（{files}）；加载 pickle 可能执行代码，因此只下载 safetensors。请选择带 safetensors 的仓库。"),
    "hub.no_weights": ("{repo} holds no model weights (no .safetensors files).", "{repo} 中没有模型权重（没有 .safetensors 文件）。"),
    "hub.bad_hash": ("{repo}: {file} arrived damaged (its sha256 differs from the hub's); it was removed. Download again.", "{repo}：{file} 下载后已损坏（sha256 与模型仓库的不符），已删除。请重新下载。"),
    "hub.stopped": ("{repo}: download stopped; {done} of {total} MiB are kept in the cache and the next download continues from there.", "{repo}：下载已停止；缓存中保留了 {done} / {total} MiB，下次下载会从此处继续。"),
    "hub.plan": ("{repo}: {files} files, {total} MiB (safetensors weights, configuration and tokenizer).", "{repo}：{files} 个文件，共 {total} MiB（safetensors 权重、配置和分词器）。"),
    "hub.done": ("{repo} is in the cache ({total} MiB, hashes checked): {path}", "{repo} 已在缓存中（{total} MiB，哈希已校验）：{path}"),
    "hub.odd_answer": ("{repo}: the hub at {url} answered with a revision or file name that is not one ('{detail}'); nothing was written. Check HF_ENDPOINT.", "{repo}：{url} 上的模型仓库返回的修订号或文件名不合法（“{detail}”）；未写入任何内容。请检查 HF_ENDPOINT。"),
    "hub.linked": ("{folder} holds a symbolic link ({link}); a push would upload what it points at, so links are refused. Export again into a fresh folder.", "{folder} 中有符号链接（{link}）；推送会上传它指向的内容，因此不允许链接。请重新导出到新文件夹。"),
    "hub.busy": ("{repo} is being downloaded; stop the download before deleting it.", "{repo} 正在下载；请先停止下载再删除。"),
    "hub.pick": ("Choose a cached model first.", "请先选择一个已缓存的模型。"),
    "hub.pick_export": ("Choose an export first.", "请先选择一个导出。"),
    "hub.confirm": ("To delete {repo} from the cache, type its id again in the confirmation box.", "要从缓存中删除 {repo}，请在确认框中再输入一次它的 ID。"),
    "hub.not_cached": ("{repo} is not in the Hugging Face cache.", "{repo} 不在 Hugging Face 缓存中。"),
    "hub.deleted": ("Deleted {repo} from the cache; {mb} MiB freed.", "已从缓存中删除 {repo}；释放 {mb} MiB。"),
    "hub.no_token": ("{repo}: pushing needs a hub token: set HF_TOKEN in the environment the studio runs in (it is never typed into the page).", "{repo}：推送需要模型仓库令牌：请在运行工作室的环境中设置 HF_TOKEN（绝不在页面中输入）。"),
    "hub.pushed": ("Pushed {folder} to {repo}: {url}", "已把 {folder} 推送到 {repo}：{url}"),
    "hub.not_export": ("{folder} is not an export folder; push one written by Export.", "{folder} 不是导出文件夹；请推送由“导出”生成的文件夹。"),
    # GGUF export
    "gguf.arch": ("GGUF export does not support the architecture '{arch}'; supported: {supported}.", "GGUF 导出不支持架构“{arch}”；支持：{supported}。"),
    "gguf.rope": ("GGUF export does not support rotary scaling '{kind}'; supported: {supported}.", "GGUF 导出不支持旋转位置编码缩放“{kind}”；支持：{supported}。"),
    "gguf.tensor": ("GGUF export: the tensor '{tensor}' has no place in a {arch} GGUF file; the model differs from the architecture it names.", "GGUF 导出：张量“{tensor}”在 {arch} 的 GGUF 文件中没有对应位置；该模型与其声明的架构不一致。"),
    "gguf.tokenizer": ("GGUF export: the tokenizer in {folder} cannot be written as llama.cpp's byte-level BPE vocabulary: {reason}.", "GGUF 导出：{folder} 中的分词器无法写成 llama.cpp 的字节级 BPE 词表：{reason}。"),
    "gguf.template": ("GGUF export: the chat template '{template}' cannot be written as an Ollama template.", "GGUF 导出：对话模板“{template}”无法写成 Ollama 模板。"),
    "gguf.kind": ("GGUF type '{kind}' is not offered; choose one of {kinds}.", "不提供 GGUF 类型“{kind}”；请从 {kinds} 中选择。"),
    "gguf.kquant": ("{kind} is made only by llama.cpp's compiled quantizer: export f16 here, then run: {command}", "{kind} 只能由 llama.cpp 编译出的量化程序生成：请先在此导出 f16，再运行：{command}"),
    "gguf.missing": ("GGUF export needs the gguf package, which is not installed: {command}", "GGUF 导出需要 gguf 包，但尚未安装：{command}"),
    "gguf.no_space": ("Not enough disk space in {folder}: the GGUF needs about {need} MiB, {free} MiB is free. Nothing was written.", "{folder} 的磁盘空间不足：GGUF 约需 {need} MiB，可用 {free} MiB。未写入任何内容。"),
    "gguf.step_plan": ("GGUF {kind}: the source weights take {source} MiB; the file will take about {size} MiB.", "GGUF {kind}：源权重占 {source} MiB；文件约为 {size} MiB。"),
    "gguf.step_write": ("Writing {file} tensor by tensor…", "正在逐个张量写入 {file}……"),
    "gguf.step_done": ("Exported to {out}: the GGUF takes {size} MiB (the source {source} MiB), in {seconds} s.", "已导出到 {out}：GGUF 占 {size} MiB（源文件 {source} MiB），用时 {seconds} 秒。"),
    "export.no_source": ("export: name a run (--run) or, for a GGUF, a model folder (--model with --gguf).", "export：请指定一次运行（--run），或在导出 GGUF 时指定模型文件夹（--model 加 --gguf）。"),
    "export.no_space": ("The disk under {folder} filled up while exporting ({free} MiB free now); the partial export was removed. Free some space or choose another disk.", "导出时 {folder} 所在磁盘已满（当前可用 {free} MiB）；未完成的导出已删除。请释放空间或换一个磁盘。"),
    "export.no_weights": ("{folder} holds no safetensors weights to export.", "{folder} 中没有可导出的 safetensors 权重。"),
}
