"""The Runs tab's charts, drawn on the server with matplotlib: legends, a real log scale, and one image per
change of metrics.jsonl (not per refresh)."""

from __future__ import annotations

import contextlib
import threading
from functools import wraps
from typing import Any

import matplotlib
from matplotlib import font_manager, ticker
from matplotlib.figure import Figure

from studio.runs.curves import series, smooth
from studio.ui.i18n import t

CJK_FONTS = ("/usr/share/fonts/truetype/wqy/wqy-zenhei.ttc", "/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc")
for _path in CJK_FONTS:  # registered by path: matplotlib's font cache may predate the font's installation
    with contextlib.suppress(OSError, RuntimeError):  # a font this machine does not have
        font_manager.fontManager.addfont(_path)
matplotlib.rcParams["font.sans-serif"] = ["WenQuanYi Zen Hei", "Noto Sans CJK SC", "DejaVu Sans"]  # Latin and Chinese
matplotlib.rcParams["axes.unicode_minus"] = False
COLORS = matplotlib.rcParams["axes.prop_cycle"].by_key()["color"]
PLAIN = ticker.FuncFormatter(lambda value, _: f"{value:.4g}")
_LOCK = threading.Lock()  # matplotlib's text layout is not thread-safe; Gradio calls us from several threads


def _serial(fn: Any) -> Any:
    @wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Figure:
        with _LOCK:
            return fn(*args, **kwargs)

    return wrapper


def _line(ax: Any, metrics: list[dict[str, Any]], key: str, label: str, smoothed: bool = False, **style: Any) -> bool:
    steps, values = series(metrics, key)
    if not steps:
        return False
    ax.plot(steps, smooth(values) if smoothed else values, label=label, **style)
    return True


@_serial
def run_figure(metrics: list[dict[str, Any]], lang: str, log: bool) -> Figure:
    """Loss (raw, smoothed with a fixed weight, eval), learning rate, gradient norm and throughput; a preference run
    (its metrics carry rewards) adds the rewards of chosen and rejected answers, their margin and the accuracy."""
    preference = any("rewards/accuracies" in m for m in metrics)
    fig = Figure(figsize=(11, 9.3 if preference else 6.2), dpi=90)
    axes = fig.subplots(3 if preference else 2, 2)
    (loss, lr), (grad, speed) = axes[0], axes[1]
    _line(loss, metrics, "loss", t("runs.loss", lang), color="#9bbcd9", linewidth=1)
    _line(loss, metrics, "loss", t("runs.smoothed", lang), smoothed=True, color="#1f5f99", linewidth=2)
    _line(loss, metrics, "eval_loss", t("runs.eval", lang), color="#d9480f", marker="o", markersize=4, linewidth=1.5)
    loss.set_title(t("runs.loss", lang))
    if loss.lines:
        loss.legend(loc="upper right", fontsize=8)
    for ax, key, title in ((lr, "lr", "runs.lr"), (grad, "grad_norm", "runs.grad"), (speed, "tokens_per_s", "runs.speed")):
        _line(ax, metrics, key, t(title, lang), color="#2b8a3e", linewidth=1.5)
        ax.set_title(t(title, lang))
    if preference:
        _rewards(axes[2][0], axes[2][1], metrics, lang)
    for ax in axes.flat:
        ax.grid(alpha=0.3)
        ax.set_xlabel(t("runs.step", lang), fontsize=8)
        ax.tick_params(labelsize=8)
        if log and ax.lines and getattr(ax, "_logable", True):
            ax.set_yscale("log")
            ax.yaxis.set_major_formatter(PLAIN)  # 0.1, not 10^-1 (mathtext, whose minus the CJK font lacks)
            low, high = ax.get_ylim()  # within a decade, the minor ticks labelled; across decades 1-2-5 steps
            if low > 0 and high / low < 10:
                ax.yaxis.set_minor_formatter(PLAIN)
            else:
                ax.yaxis.set_major_locator(ticker.LogLocator(subs=(1.0, 2.0, 5.0)))
                ax.yaxis.set_minor_formatter(ticker.NullFormatter())
    fig.tight_layout()
    return fig


def _rewards(rewards: Any, accuracy: Any, metrics: list[dict[str, Any]], lang: str) -> None:
    """Rewards (β × log-ratio to the reference) of chosen and rejected answers and their margin, smoothed, with the
    evaluations as markers; the share of pairs whose chosen answer has the higher reward."""
    for key, color in (("chosen", "#2b8a3e"), ("rejected", "#c92a2a"), ("margins", "#1f5f99")):
        label = t(f"runs.reward.{key}", lang)
        _line(rewards, metrics, f"rewards/{key}", label, smoothed=True, color=color, linewidth=1.8)
        _line(rewards, metrics, f"eval_rewards/{key}", f"{label} · {t('runs.eval_short', lang)}", color=color,
              linestyle="--", marker="o", markersize=4, linewidth=1)
    rewards.axhline(0, color="#868e96", linewidth=0.8)
    rewards.set_title(t("runs.rewards", lang))
    _line(accuracy, metrics, "rewards/accuracies", t("runs.reward.accuracy", lang), smoothed=True, color="#1f5f99",
          linewidth=1.8)
    _line(accuracy, metrics, "eval_rewards/accuracies", t("runs.eval_short", lang), color="#d9480f", marker="o",
          markersize=4, linewidth=1.5)
    accuracy.set_ylim(-0.02, 1.02)
    accuracy.set_title(t("runs.reward.accuracy", lang))
    for ax in (rewards, accuracy):
        ax._logable = False  # rewards cross 0; the accuracy is a share
        if ax.lines:
            ax.legend(fontsize=7, loc="best")


@_serial
def compare_figure(metrics_by_run: dict[str, list[dict[str, Any]]], lang: str) -> Figure:
    """Each run's smoothed training loss (solid) and eval loss (dashed, same colour)."""
    fig = Figure(figsize=(11, 4.2), dpi=90)
    ax = fig.subplots()
    for i, (run, metrics) in enumerate(metrics_by_run.items()):
        color = COLORS[i % len(COLORS)]
        _line(ax, metrics, "loss", run, smoothed=True, color=color, linewidth=2)
        _line(ax, metrics, "eval_loss", f"{run} · {t('runs.eval', lang)}", color=color, linestyle="--", marker="o",
              markersize=3)
    ax.set_title(t("runs.compare_plot", lang))
    ax.set_xlabel(t("runs.step", lang), fontsize=8)
    ax.grid(alpha=0.3)
    if ax.lines:
        ax.legend(fontsize=8)
    fig.tight_layout()
    return fig


@_serial
def eval_figure(rows: list[list[Any]], targets: list[str], curve: list[tuple[int, float]], curve_key: str,
                lang: str) -> Figure:
    """Scores on 0..100 as bars, one colour per weight set (the base first); beside them, with several
    checkpoints, the score per training step."""
    bars = [r for r in rows if r[0] not in ("eval_loss", "perplexity", "answer_chars")]
    fig = Figure(figsize=(11, 3.8), dpi=90)
    axes = fig.subplots(1, 2, gridspec_kw={"width_ratios": [3, 2]}) if len(curve) > 1 else [fig.subplots()]
    ax = axes[0]
    width = 0.8 / max(1, len(targets))
    for i, target in enumerate(targets):
        values = [r[1 + i] if r[1 + i] is not None else 0.0 for r in bars]
        xs = [n + (i - (len(targets) - 1) / 2) * width for n in range(len(bars))]
        drawn = ax.bar(xs, values, width, label=target, color="#adb5bd" if target == "base" else COLORS[i % len(COLORS)])
        if len(targets) <= 3:  # more bars than that: the labels would overlap
            ax.bar_label(drawn, fmt="%.1f", fontsize=7, padding=1)
    ax.set_xticks(range(len(bars)), [r[0] for r in bars], fontsize=8)
    ax.set_ylim(0, 105)
    ax.set_title(t("eval.chart_scores", lang))
    ax.grid(alpha=0.3, axis="y")
    if targets:
        ax.legend(fontsize=8, loc="upper left", bbox_to_anchor=(1.0, 1.0))  # beside the bars, never over them
    if len(curve) > 1:
        steps, values = zip(*curve, strict=True)
        axes[1].plot(steps, values, marker="o", color="#1f5f99")
        axes[1].set_title(t("eval.chart_curve", lang, score=curve_key))
        axes[1].set_ylim(0, 100)
        axes[1].set_xlabel(t("runs.step", lang), fontsize=8)
        axes[1].grid(alpha=0.3)
    fig.tight_layout()
    return fig
