"""Sentences for GGUF / Ollama export, experiment trackers and the Hugging Face hub: key -> (English, Chinese)."""

from __future__ import annotations

ECO_MESSAGES: dict[str, tuple[str, str]] = {
    # experiment trackers
    "config.tracker_missing": ("report_to: the tracker '{tracker}' is not installed here; install it (pip install {tracker}) or choose none.", "report_to：此处未安装追踪工具“{tracker}”；请安装（pip install {tracker}）或选择 none。"),
    # GGUF export
    "gguf.arch": ("GGUF export does not support the architecture '{arch}'; supported: {supported}.", "GGUF 导出不支持架构“{arch}”；支持：{supported}。"),
    "gguf.rope": ("GGUF export does not support rotary scaling '{kind}'; supported: {supported}.", "GGUF 导出不支持旋转位置编码缩放“{kind}”；支持：{supported}。"),
    "gguf.tensor": ("GGUF export: the tensor '{tensor}' has no place in a {arch} GGUF file; the model differs from the architecture it names.", "GGUF 导出：张量“{tensor}”在 {arch} 的 GGUF 文件中没有对应位置；该模型与其声明的架构不一致。"),
    "gguf.tokenizer": ("GGUF export: the tokenizer in {folder} cannot be written as llama.cpp's byte-level BPE vocabulary: {reason}.", "GGUF 导出：{folder} 中的分词器无法写成 llama.cpp 的字节级 BPE 词表：{reason}。"),
    "gguf.template": ("GGUF export: the chat template '{template}' cannot be written as an Ollama template.", "GGUF 导出：对话模板“{template}”无法写成 Ollama 模板。"),
    "gguf.kind": ("GGUF type '{kind}' is not offered; choose one of {kinds}.", "不提供 GGUF 类型“{kind}”；请从 {kinds} 中选择。"),
    "gguf.kquant": ("{kind} is a K-quant, made only by llama.cpp's compiled quantizer: export f16 here, then run: {command}", "{kind} 是 K 量化，只能由 llama.cpp 编译出的量化程序生成：请先在此导出 f16，再运行：{command}"),
    "gguf.missing": ("GGUF export needs the gguf package, which is not installed: {command}", "GGUF 导出需要 gguf 包，但尚未安装：{command}"),
    "gguf.no_space": ("Not enough disk space in {folder}: the GGUF needs about {need} MiB, {free} MiB is free. Nothing was written.", "{folder} 的磁盘空间不足：GGUF 约需 {need} MiB，可用 {free} MiB。未写入任何内容。"),
    "gguf.step_plan": ("GGUF {kind}: the source weights take {source} MiB; the file will take about {size} MiB.", "GGUF {kind}：源权重占 {source} MiB；文件约为 {size} MiB。"),
    "gguf.step_write": ("Writing {file} tensor by tensor…", "正在逐个张量写入 {file}……"),
    "gguf.step_done": ("Exported to {out}: the GGUF takes {size} MiB (the source {source} MiB), in {seconds} s.", "已导出到 {out}：GGUF 占 {size} MiB（源文件 {source} MiB），用时 {seconds} 秒。"),
    "export.no_source": ("export: name a run (--run) or, for a GGUF, a model folder (--model with --gguf).", "export：请指定一次运行（--run），或在导出 GGUF 时指定模型文件夹（--model 加 --gguf）。"),
    "export.no_space": ("The disk under {folder} filled up while exporting ({free} MiB free now); the partial export was removed. Free some space or choose another disk.", "导出时 {folder} 所在磁盘已满（当前可用 {free} MiB）；未完成的导出已删除。请释放空间或换一个磁盘。"),
    "export.no_weights": ("{folder} holds no safetensors weights to export.", "{folder} 中没有可导出的 safetensors 权重。"),
}
