"""llama.cpp reads our GGUF: the same greedy tokens, the same top-1 predictions and the same token ids as transformers.

    python bench/gguf_llamacpp.py --llama-python PYTHON [--model DEMO_FOLDER] [--new-tokens 24] [--positions 400]
                                  [--random-positions 200] [--results DIR]

PYTHON is a Python with llama-cpp-python installed (CPU build is enough); it runs as a subprocess that gets token
ids as JSON and sends back ids (and its logits as .npy), so nothing of llama.cpp is imported here.

The demo model (studio.train.demo.create_model, or --model) is exported as f16 and q8_0 with export_gguf. Here
transformers (the HF folder, float32) gives (1) greedy generations, --new-tokens tokens by argmax with no sampling
and no stop, for six chatml prompts encoded by the studio's Encoder, and (2) the top-1 argmax at every position of a
--positions-token teacher-forced text (the demo's identity conversations in chatml). llama.cpp does the same on
each GGUF (KV cache in its default f16, logits of every position, argmax over raw logits, no sampler chain).
Measured: prompts whose generations match token for token, the first divergence, top-1 agreement over the
positions (also with llama.cpp's KV cache in f32, to tell its f16 cache's rounding from the file's), the largest
and mean |logit difference|, HF's median lead of its top-1 over its second choice (how far from ties the positions
are). Expected: f16 generations all equal; q8_0 top-1 agreement >= 95%. Also llama.cpp's tokenization
(special=True, add_bos=False) of English, Chinese, digits, whitespace, accents / emoji and the chatml special
tokens against the HF tokenizer's ids, its detokenization back to the text (token_to_piece), and the file's own
chat template rendered by llama-cpp-python's Jinja formatter and tokenized by llama.cpp against the studio
Encoder's prompt ids.

Beyond the demo, so that the Llama Q/K row permutation (and Qwen2's biases) are shown right on other shapes: a
random tiny Qwen2 (qwen2 arch, q/k/v biases set random, tied head) and a random tiny Llama (4 heads / 2 KV heads,
head_dim 64, untied head), both with the demo tokenizer and initializer_range 0.1 so that logits and attention
have margins; their f16 GGUF against transformers on the same weights rounded to f16 (what the file holds), over
--random-positions positions and the six prompts' greedy generations. A control row exports the random Llama with
the Q/K permutation switched off (gguf_arch.arrange patched to identity, in this process only): its agreement
should collapse, which shows the comparison would catch a wrong permutation. Figures, not pass/fail.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

PROMPTS = ["Who are you?", "你是谁？", "What is 3 + 4?", "What colour is the sky?", "Say hello.", "天空是什么颜色？"]
TEXTS = {
    "English": "Hello world! How are you doing today? I'm fine, thanks.",
    "Chinese": "你好，世界！天空是什么颜色？我是一个很小的演示模型。",
    "digits": "3.14159 2024-01-01 1234567890 007 +42",
    "whitespace": "  two  spaces\n\n\tnew line's   end  ",
    "accents, emoji": "café naïve 🙂 — ok",
    "chatml specials": "<|im_start|>system\nYou are Pico.<|im_end|>\n<|im_start|>user\n你是谁？<|im_end|>\n"
                       "<|im_start|>assistant\n",
}

LLAMA_SIDE = r'''
import ctypes, json, sys
import numpy as np
import llama_cpp

job = json.loads(open(sys.argv[1]).read())
out = {}
try:
    llm = llama_cpp.Llama(model_path=job["model"], logits_all=True, n_ctx=job["n_ctx"], n_batch=job["n_ctx"],
                          n_threads=2, n_threads_batch=2, verbose=True, seed=0)
except Exception as exc:
    print(json.dumps({"error": f"{type(exc).__name__}: {exc}"}))
    sys.exit(0)
out["bos"], out["eos"], out["n_vocab"] = llm.token_bos(), llm.token_eos(), llm.n_vocab()
out["metadata"] = llm.metadata

def run(ids):
    llm.reset()
    llm.eval([int(t) for t in ids])
    return np.array(llm.scores[: len(ids)], dtype=np.float32, copy=True)

gens = []
for prompt in job["prompts"]:
    llm.reset()
    llm.eval([int(t) for t in prompt])
    gen = []
    for _ in range(job["new_tokens"]):  # argmax over raw logits: no sampler chain, no penalties, no stop
        tok = int(np.argmax(llm.scores[llm.n_tokens - 1]))
        gen.append(tok)
        llm.eval([tok])
    gens.append(gen)
out["generations"] = gens
if job.get("forced"):
    logits = run(job["forced"])
    np.save(job["logits_out"], logits)
    out["argmax"] = [int(x) for x in logits.argmax(-1)]
out["tokenized"] = {name: llm.tokenize(text.encode("utf-8"), add_bos=False, special=True)
                    for name, text in job.get("texts", {}).items()}
vocab = llama_cpp.llama_model_get_vocab(llm.model)

def piece(tok):  # llama.cpp's own bytes of a token (Llama.detokenize cuts every piece at 32 bytes)
    buf = ctypes.create_string_buffer(256)
    n = llama_cpp.llama_token_to_piece(vocab, tok, buf, 256, 0, True)
    return buf.raw[:n]

out["detokenized"] = {name: b"".join(piece(t) for t in ids).decode("utf-8", errors="replace")
                      for name, ids in out["tokenized"].items()}
out["detokenized_wrapper"] = {name: llm.detokenize(ids, special=True).decode("utf-8", errors="replace")
                              for name, ids in out["tokenized"].items()}
if job.get("chat"):  # the file's own chat template, as llama-cpp-python renders it, tokenized by llama.cpp
    from llama_cpp.llama_chat_format import Jinja2ChatFormatter
    bos = piece(llm.token_bos()).decode("utf-8", errors="replace")
    fmt = Jinja2ChatFormatter(llm.metadata["tokenizer.chat_template"], piece(llm.token_eos()).decode(), bos)
    out["chat_ids"] = [llm.tokenize(fmt(messages=[{"role": "user", "content": text}]).prompt.encode("utf-8"),
                                    add_bos=False, special=True) for text in job["chat"]]
if job.get("forced") and job.get("kv_f32"):  # the same positions with an f32 KV cache (GGML_TYPE_F32 = 0)
    del llm
    llm = llama_cpp.Llama(model_path=job["model"], logits_all=True, n_ctx=job["n_ctx"], n_batch=job["n_ctx"],
                          n_threads=2, n_threads_batch=2, verbose=False, seed=0, type_k=0, type_v=0)
    np.save(job["logits_out"] + ".f32kv.npy", run(job["forced"]))
print(json.dumps(out))
'''
# llama.cpp's load log lines worth reading (its verbose log is otherwise hundreds of lines)
_NOTABLE = re.compile(r"warn|error|fail|unknown|missing|mismatch|not marked|invalid|BOS token|EOS token|EOT token|"
                      r"EOG token|PAD token", re.I)


def llama_run(python: str, gguf_file: Path, work: Path, prompts: list[list[int]], new_tokens: int,
              forced: list[int], texts: dict[str, str] | None = None,
              kv_f32: bool = False, chat: list[str] | None = None) -> tuple[dict[str, Any], Any, Any, list[str]]:
    """llama.cpp's generations, per-position logits (and with an f32 KV cache) and tokenization of `gguf_file`;
    and the notable lines of its load log."""
    import numpy as np

    n_ctx = max([len(forced)] + [len(p) + new_tokens for p in prompts]) + 8
    n_ctx = (n_ctx + 63) // 64 * 64
    job = work / f"{gguf_file.stem}.job.json"
    logits_out = work / f"{gguf_file.stem}.logits.npy"
    job.write_text(json.dumps({"model": str(gguf_file), "n_ctx": n_ctx, "prompts": prompts,
                               "new_tokens": new_tokens, "forced": forced, "logits_out": str(logits_out),
                               "texts": texts or {}, "kv_f32": kv_f32,
                               "chat": chat or []}), encoding="utf-8")
    side = work / "llama_side.py"
    side.write_text(LLAMA_SIDE, encoding="utf-8")
    done = subprocess.run([python, str(side), str(job)], capture_output=True, text=True)
    log = [ln for ln in done.stderr.splitlines() if _NOTABLE.search(ln) and "llama_graph_n_input" not in ln]
    lines = done.stdout.strip().splitlines()
    if done.returncode or not lines:
        raise SystemExit(f"llama.cpp side failed on {gguf_file} (exit {done.returncode}):\n{done.stderr[-4000:]}")
    got = json.loads(lines[-1])
    if "error" in got:
        raise SystemExit(f"llama.cpp refused {gguf_file}: {got['error']}\n" + "\n".join(done.stderr.splitlines()[-40:]))
    logits = np.load(logits_out) if forced else None
    f32kv = np.load(str(logits_out) + ".f32kv.npy") if forced and kv_f32 else None
    return got, logits, f32kv, list(dict.fromkeys(log))


def hf_side(model: Any, prompts: list[list[int]], new_tokens: int, forced: list[int]) -> tuple[list[list[int]], Any]:
    """transformers' greedy generations (argmax, KV cache, no stop) and the logits at every forced position."""
    import torch

    gens = []
    with torch.inference_mode():
        for prompt in prompts:
            out = model(torch.tensor([prompt]), use_cache=True)
            gen: list[int] = []
            for _ in range(new_tokens):
                tok = int(out.logits[0, -1].argmax())
                gen.append(tok)
                out = model(torch.tensor([[tok]]), past_key_values=out.past_key_values, use_cache=True)
            gens.append(gen)
        logits = model(torch.tensor([forced])).logits[0].float().numpy()
    return gens, logits


def compare(hf_gens: list[list[int]], ll_gens: list[list[int]], hf_logits: Any, ll_logits: Any,
            f32kv: Any = None) -> dict[str, Any]:
    import numpy as np

    equal = sum(a == b for a, b in zip(hf_gens, ll_gens, strict=True))
    first = ""
    for i, (a, b) in enumerate(zip(hf_gens, ll_gens, strict=True)):
        k = next((j for j, (x, y) in enumerate(zip(a, b, strict=True)) if x != y), None)
        if k is not None:
            first = f"prompt {i + 1} token {k + 1}: HF {a[k]} vs llama.cpp {b[k]}"
            break
    hf_top, ll_top = hf_logits.argmax(-1), ll_logits.argmax(-1)
    agree = float((hf_top == ll_top).mean())
    top2 = np.sort(hf_logits, axis=-1)
    margin = top2[:, -1] - top2[:, -2]  # HF's lead of its top-1 over its second choice
    diff = abs(hf_logits - ll_logits)
    miss = (hf_top != ll_top)
    return {"prompts_equal": equal, "prompts": len(hf_gens), "first_divergence": first, "top1_agreement": agree,
            "positions": int(len(hf_top)), "max_abs_logit_diff": float(diff.max()),
            "mean_abs_logit_diff": float(diff.mean()),
            "top1_agreement_f32kv": float((hf_top == f32kv.argmax(-1)).mean()) if f32kv is not None else None,
            "misses_hf_margin_max": float(margin[miss].max()) if miss.any() else 0.0,
            "hf_margin_median": float(np.median(margin))}


def demo_model(folder: Path) -> Path:
    from studio.train.demo import create_model

    if not (folder / "model.safetensors").exists():
        create_model(folder)
    return folder


def random_model(folder: Path, demo: Path, model_type: str, **extra: Any) -> Path:
    """A random tiny model of `model_type` with the demo tokenizer (biases, where the arch has them, random too)."""
    import torch
    from transformers import AutoConfig, AutoModelForCausalLM

    from studio.model.info import load_tokenizer

    tok = load_tokenizer(demo)
    sizes = dict(vocab_size=len(tok), hidden_size=256, intermediate_size=512, num_hidden_layers=2,
                 num_attention_heads=4, num_key_value_heads=2, max_position_embeddings=1024, initializer_range=0.1,
                 eos_token_id=tok.convert_tokens_to_ids("<|im_end|>"),
                 pad_token_id=tok.convert_tokens_to_ids("<|endoftext|>"), bos_token_id=None)
    config = AutoConfig.for_model(model_type, **{**sizes, **extra})
    torch.manual_seed(0)
    model = AutoModelForCausalLM.from_config(config)
    with torch.no_grad():
        for name, param in model.named_parameters():
            if name.endswith(".bias"):  # initialised to zero: random, or they would prove nothing
                param.normal_(0.0, 0.5)
    model.save_pretrained(folder, safe_serialization=True)
    tok.save_pretrained(folder)
    return folder


def export(folder: Path, out: Path, kind: str) -> Path:
    from studio.serve.gguf import export_gguf
    from studio.serve.targets import ChatTarget

    target = ChatTarget(base=str(folder), adapter=None, template="chatml", tokenizer=str(folder))
    done = export_gguf(target, out, kind, overwrite=True)
    return done.out / done.gguf_file


def load_hf(folder: Path, round_f16: bool) -> Any:
    import torch
    from transformers import AutoModelForCausalLM

    model = AutoModelForCausalLM.from_pretrained(folder, dtype=torch.float32).eval()
    if round_f16:  # what an f16 GGUF holds: every 2-D weight rounded to f16 (norms and biases stay f32)
        with torch.no_grad():
            for param in model.parameters():
                if param.dim() > 1:
                    param.copy_(param.half().float())
    return model


def teacher_text(encoder: Any, positions: int) -> list[int]:
    """The demo's identity conversations in chatml, one after another, cut to `positions` tokens."""
    from studio.core.workspace import REPO_ROOT
    from studio.data.conversation import Conversation, Turn

    rows = json.loads((REPO_ROOT / "assets" / "demo" / "identity.json").read_text(encoding="utf-8"))
    ids: list[int] = []
    for row in rows:
        conv = Conversation(turns=(Turn("user", row["instruction"]), Turn("assistant", row["output"])))
        encoded = encoder.encode(conv)
        ids += list(getattr(encoded, "input_ids", []))
        if len(ids) >= positions:
            break
    return ids[:positions]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--llama-python", required=True, help="a python with llama-cpp-python")
    parser.add_argument("--model", default="", help="the demo model folder (made here when not given)")
    parser.add_argument("--new-tokens", type=int, default=24)
    parser.add_argument("--positions", type=int, default=400)
    parser.add_argument("--random-positions", type=int, default=200)
    parser.add_argument("--results", default=str(ROOT / "bench" / "results"))
    args = parser.parse_args()
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    import torch

    torch.set_num_threads(1)  # the models are tiny; torch's spinning threads, with anything else on this 2-core
    # machine, made create_model ~25x slower (320 s instead of 12)
    from studio.core import hf

    hf.ready()
    from studio.serve.chat import quiet

    quiet()
    from studio.data.conversation import Conversation, Turn
    from studio.encode.encoder import Encoder, Options
    from studio.model.info import load_tokenizer
    from studio.serve import gguf_arch
    from studio.templates.named import get_template

    work = Path(tempfile.mkdtemp(prefix="gguf_llamacpp_"))
    rows: list[dict[str, Any]] = []
    notes: dict[str, list[str]] = {}
    try:
        demo = Path(args.model) if args.model else demo_model(work / "demo")
        tokenizer = load_tokenizer(demo)
        encoder = Encoder(get_template("chatml"), tokenizer, Options(cutoff_len=512))
        prompts = [encoder.prompt_ids(Conversation(turns=(Turn("user", p),))) for p in PROMPTS]
        forced = teacher_text(encoder, args.positions)
        print(f"demo model {demo}: {len(prompts)} chatml prompts ({', '.join(str(len(p)) for p in prompts)} tokens), "
              f"{args.new_tokens} new tokens each; teacher-forced text {len(forced)} tokens", flush=True)

        # the demo model: HF float32 against f16 and q8_0
        model = load_hf(demo, round_f16=False)
        hf_gens, hf_logits = hf_side(model, prompts, args.new_tokens, forced)
        del model
        tokenized: dict[str, Any] = {}
        for kind in ("f16", "q8_0"):
            file = export(demo, work / f"demo-{kind}", kind)
            got, ll_logits, f32kv, log = llama_run(args.llama_python, file, work, prompts, args.new_tokens,
                                                   forced, TEXTS if kind == "f16" else None, kv_f32=True,
                                                   chat=PROMPTS if kind == "f16" else None)
            notes[f"demo {kind}"] = log
            if kind == "f16":
                tokenized = got
            rows.append({"model": "demo (Llama, 4/2 heads, tied)", "gguf": kind, "reference": "HF float32",
                         "size_mib": file.stat().st_size / 2**20,
                         **compare(hf_gens, got["generations"], hf_logits, ll_logits, f32kv)})
            print(f"  {rows[-1]['model']} {kind}: {rows[-1]['prompts_equal']}/{len(prompts)} generations equal, top-1 "
                  f"{100 * rows[-1]['top1_agreement']:.2f}%", flush=True)
        if hf_gens and rows[0]["prompts_equal"] < len(prompts):
            print("  HF generations:", hf_gens)

        # random tiny models, f16 against the same weights rounded to f16
        forced_r = forced[: args.random_positions]
        randoms = {
            "random Qwen2 (biases, tied)": ("qwen2", {"tie_word_embeddings": True}, True),
            "random Llama (4/2 heads, hd 64, untied)": ("llama", {"tie_word_embeddings": False}, True),
            "control: that Llama, Q/K NOT permuted": ("llama", {"tie_word_embeddings": False}, False),
        }
        folders: dict[tuple[str, str], Path] = {}
        for label, (model_type, extra, permute) in randoms.items():
            key = (model_type, json.dumps(extra, sort_keys=True))
            if key not in folders:
                folders[key] = random_model(work / f"random-{model_type}-{len(folders)}", demo, model_type, **extra)
            folder = folders[key]
            original = gguf_arch.arrange
            if not permute:
                gguf_arch.arrange = lambda arch, name, array: array  # the control: rows left in HF's order
            try:
                file = export(folder, work / f"export-{len(rows)}", "f16")
            finally:
                gguf_arch.arrange = original
            model = load_hf(folder, round_f16=True)
            r_gens, r_logits = hf_side(model, prompts, args.new_tokens, forced_r)
            del model
            got, ll_logits, f32kv, log = llama_run(args.llama_python, file, work, prompts, args.new_tokens,
                                                   forced_r, kv_f32=True)
            notes[label] = log
            rows.append({"model": label, "gguf": "f16", "reference": "HF, weights rounded to f16",
                         "size_mib": file.stat().st_size / 2**20,
                         **compare(r_gens, got["generations"], r_logits, ll_logits, f32kv)})
            print(f"  {label}: {rows[-1]['prompts_equal']}/{len(prompts)} generations equal, top-1 "
                  f"{100 * rows[-1]['top1_agreement']:.2f}%", flush=True)

        print(f"\n{'model':42s} {'GGUF':5s} {'reference':27s} {'greedy equal':>12s} {'top-1 agree':>12s} "
              f"{'(f32 KV)':>9s} {'positions':>9s} {'max|dlogit|':>11s} {'mean|dlogit|':>12s} {'HF lead':>8s}  "
              f"first divergence")
        for r in rows:
            f32 = f"{100 * r['top1_agreement_f32kv']:8.2f}%" if r["top1_agreement_f32kv"] is not None else ""
            print(f"{r['model']:42s} {r['gguf']:5s} {r['reference']:27s} {r['prompts_equal']:>6d}/{r['prompts']:<5d} "
                  f"{100 * r['top1_agreement']:11.2f}% {f32:>9s} {r['positions']:9d} {r['max_abs_logit_diff']:11.4f} "
                  f"{r['mean_abs_logit_diff']:12.5f} {r['hf_margin_median']:8.3f}  {r['first_divergence'] or '-'}")
        print(f"greedy equal: prompts whose {args.new_tokens} greedy tokens are the same in both. top-1 agree: "
              "positions of the teacher-forced text where both predict the same next token, llama.cpp with its "
              "default f16 KV cache, and (f32 KV) with an f32 one. max/mean|dlogit|: over all positions and the "
              "vocabulary, default KV cache. HF lead: the median over positions of HF's top-1 logit minus its "
              "second.")
        missed = [r for r in rows if r["top1_agreement"] < 1]
        if missed:
            print("where top-1 differs, HF's lead of its top-1 over its second choice was at most: " +
                  ", ".join(f"{r['model'].split(' (')[0]} {r['gguf']} {r['misses_hf_margin_max']:.4f}"
                            for r in missed))

        print(f"\n{'tokenization (llama.cpp special=True, add_bos=False)':52s} {'HF ids':>7s} {'llama ids':>9s} "
              f"{'equal':>6s} {'round trip':>10s}")
        tok_rows = []
        for name, text in TEXTS.items():
            want = tokenizer(text, add_special_tokens=False)["input_ids"]
            got_ids = tokenized["tokenized"][name]
            back = tokenized["detokenized"][name]
            tok_rows.append({"text": name, "hf": want, "llama": got_ids, "equal": want == got_ids,
                             "round_trip": back == text})
            print(f"{name:52s} {len(want):7d} {len(got_ids):9d} {str(want == got_ids):>6s} {str(back == text):>10s}")
            if want != got_ids:
                k = next((i for i, (a, b) in enumerate(zip(want, got_ids, strict=False)) if a != b),
                         min(len(want), len(got_ids)))
                hf_part, ll_part = want[k:k + 6], got_ids[k:k + 6]
                print(f"    first difference at {k}: HF {hf_part} {tokenizer.convert_ids_to_tokens(hf_part)}"
                      f" vs llama.cpp {ll_part} {tokenizer.convert_ids_to_tokens(ll_part)}")
            if back != text:
                print(f"    detokenized: {back!r}")
            wrapper = tokenized["detokenized_wrapper"][name]
            if wrapper != back:
                print(f"    (llama-cpp-python's Llama.detokenize gives {wrapper!r}: it cuts each piece at 32 bytes; "
                      f"token_to_piece with a larger buffer gives the text)")
        chat_equal = sum(a == b for a, b in zip(tokenized["chat_ids"], prompts, strict=True))
        print(f"{'chat template from the GGUF (llama-cpp-python Jinja)':52s} {sum(map(len, prompts)):7d} "
              f"{sum(map(len, tokenized['chat_ids'])):9d} {f'{chat_equal}/{len(prompts)}':>6s}   (the {len(prompts)} "
              f"prompts against the studio Encoder's prompt ids)")
        for a, b in zip(tokenized["chat_ids"], prompts, strict=True):
            if a != b:
                print(f"    llama.cpp {a}\n    studio    {b}")
        tok_rows.append({"text": "chat template", "equal": chat_equal, "of": len(prompts)})
        print(f"llama.cpp special ids: BOS {tokenized['bos']}, EOS {tokenized['eos']} (HF: BOS "
              f"{tokenizer.bos_token_id}, EOS {tokenizer.eos_token_id}, '<|im_end|>' "
              f"{tokenizer.convert_tokens_to_ids('<|im_end|>')}), n_vocab {tokenized['n_vocab']} (HF {len(tokenizer)})")

        print("\nllama.cpp's load log, lines with warnings, errors and special tokens:")
        shown: dict[tuple[str, ...], str] = {}
        for label, lines in notes.items():
            if tuple(lines) in shown:
                print(f"  {label}: the same as {shown[tuple(lines)]}")
                continue
            shown[tuple(lines)] = label
            print(f"  {label}:")
            for line in lines:
                print(f"    {line}")
        results = Path(args.results)
        results.mkdir(parents=True, exist_ok=True)
        (results / "gguf_llamacpp.json").write_text(json.dumps({"rows": rows, "tokenization": tok_rows,
                                                                "llama_log": notes}, indent=1, ensure_ascii=False))
        print(f"written {results / 'gguf_llamacpp.json'}")
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
