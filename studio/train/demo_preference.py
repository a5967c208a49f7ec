"""The preference demo: pairs where the chosen answer is the plain answer plus a friendly closing line ("Pico is
glad to help." / "很高兴能帮上忙。") and the rejected one is the same answer without it, on the questions the demo base model
was warmed up on (sums, words, colours). The base never closes that way; a DPO run teaches it to, so the style is
visible in the Chat tab. The same answers, tagged good or bad, make the KTO demo.

Written by a seeded generator (no file is shipped); HELD_OUT questions are never among the rows, for the check that
the tuned model keeps the style on questions it has not seen."""

from __future__ import annotations

import json
import random

from studio.core.workspace import Workspace
from studio.data.registry import load_registry, register

PAIRS_DATASET, PAIRS_FILE = "demo_preference", "demo_preference.json"
KTO_DATASET, KTO_FILE = "demo_feedback", "demo_feedback.json"
CLOSING = {"en": " Pico is glad to help.", "zh": "很高兴能帮上忙。"}  # words the demo base has read
ROWS, SEED = 240, 7
# the demo base's warm-up vocabulary (studio.train.demo): the questions here are ones it can already answer
WORDS = [("cat", "猫"), ("dog", "狗"), ("water", "水"), ("fire", "火"), ("tree", "树"), ("book", "书"),
          ("sun", "太阳"), ("moon", "月亮"), ("rain", "雨"), ("river", "河"), ("mountain", "山"),
          ("flower", "花"), ("bird", "鸟"), ("fish", "鱼"), ("apple", "苹果"), ("rice", "米饭"),
          ("tea", "茶"), ("house", "房子"), ("road", "路"), ("school", "学校"), ("friend", "朋友"),
          ("teacher", "老师"), ("city", "城市"), ("music", "音乐"), ("light", "光"), ("wind", "风")]
COLORS = [("sky", "blue", "天空", "蓝色"), ("grass", "green", "草", "绿色"), ("snow", "white", "雪", "白色"),
           ("coal", "black", "煤", "黑色"), ("blood", "red", "血", "红色"), ("banana", "yellow", "香蕉", "黄色"),
           ("orange", "orange", "橙子", "橙色"), ("night", "dark", "夜晚", "黑暗的")]


def question(rng: random.Random) -> tuple[str, str, str]:
    """(question, plain answer, language), in the warm-up's own words."""
    kind, zh = rng.randrange(3), rng.random() < 0.5
    a, b = rng.randrange(20), rng.randrange(20)
    en_word, zh_word = rng.choice(WORDS)
    thing, color, zh_thing, zh_color = rng.choice(COLORS)
    if kind == 0:
        q, r = (f"{a} 加 {b} 等于多少？", f"{a} 加 {b} 等于 {a + b}。") if zh else (f"What is {a} plus {b}?",
                                                                            f"{a} plus {b} is {a + b}.")
    elif kind == 1:
        q, r = (f"“{zh_word}”用英文怎么说？", f"“{zh_word}”的英文是 {en_word}。") if zh else (
            f"How do you say '{en_word}' in Chinese?", f"'{en_word}' in Chinese is {zh_word}.")
    else:
        q, r = (f"{zh_thing}是什么颜色的？", f"{zh_thing}是{zh_color}。") if zh else (f"What color is the {thing}?",
                                                                               f"The {thing} is {color}.")
    return q, r, "zh" if zh else "en"


def pairs(count: int = ROWS, seed: int = SEED) -> list[dict[str, str]]:
    """Alpaca preference rows (instruction, input, chosen, rejected); questions unique, HELD_OUT left out."""
    rng, seen, rows = random.Random(seed), set(held_out()), []
    while len(rows) < count:
        q, r, lang = question(rng)
        if q not in seen:
            seen.add(q)
            rows.append({"instruction": q, "input": "", "chosen": r + CLOSING[lang], "rejected": r})
    return rows


def held_out(count: int = 40) -> list[str]:
    """Questions no demo row asks: where the tuned model shows whether it learned the style or the rows."""
    rng, out = random.Random(SEED + 1000), []
    while len(out) < count:
        q, _, _ = question(rng)
        if q not in out:
            out.append(q)
    return out


def polite(answer: str) -> bool:
    """Whether an answer closes the preferred way."""
    return answer.strip().endswith((CLOSING["en"].strip(), CLOSING["zh"]))


def ensure_preference_datasets(ws: Workspace) -> None:
    """Write and register the demo's pairs and its KTO rows (sharegpt messages with a kto_tag), unless there."""
    registry = load_registry(ws.registry_file)
    rows = pairs()
    if not (ws.data_dir / PAIRS_FILE).exists():
        (ws.data_dir / PAIRS_FILE).write_text(json.dumps(rows, ensure_ascii=False, indent=1), encoding="utf-8")
    if PAIRS_DATASET not in registry:
        register(ws.registry_file, PAIRS_DATASET, {"file_name": PAIRS_FILE, "ranking": True, "columns": {
            "prompt": "instruction", "query": "input", "chosen": "chosen", "rejected": "rejected"}})
    if not (ws.data_dir / KTO_FILE).exists():
        feedback = [{"messages": [{"role": "user", "content": r["instruction"]},
                                  {"role": "assistant", "content": r["chosen"] if n % 2 == 0 else r["rejected"]}],
                     "label": n % 2 == 0} for n, r in enumerate(rows)]
        (ws.data_dir / KTO_FILE).write_text(json.dumps(feedback, ensure_ascii=False, indent=1), encoding="utf-8")
    if KTO_DATASET not in registry:
        register(ws.registry_file, KTO_DATASET, {"file_name": KTO_FILE, "formatting": "sharegpt", "columns": {
            "messages": "messages", "kto_tag": "label"}, "tags": {
            "role_tag": "role", "content_tag": "content", "user_tag": "user", "assistant_tag": "assistant"}})
