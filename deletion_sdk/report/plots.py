"""The report's figures: matplotlib on the Agg canvas, returned as PNG bytes (embedded as base64 by the page).

Figures are built with :class:`matplotlib.figure.Figure` and an explicit Agg canvas, never through
``pyplot``, so rendering a report touches no global matplotlib state and is safe in any thread or server.
Colours are from the Okabe–Ito palette (readable with colour-vision deficiencies): the forget set is
vermillion, the holdout set blue; the model before unlearning is orange, after is dark blue, the retrained
reference green.
"""

from __future__ import annotations

import io
from collections.abc import Sequence

import numpy as np
from matplotlib.axes import Axes
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from deletion_sdk.verification.lira import LiraReport, LiraResult
from deletion_sdk.verification.report import Histogram, ModelEvidence, VerificationReport
from deletion_sdk.verification.utility import UtilityReport

__all__ = [
    "MODEL_LABELS",
    "SET_LABELS",
    "histogram_png",
    "lira_png",
    "roc_png",
    "utility_png",
]

FORGET_COLOUR = "#D55E00"
HOLDOUT_COLOUR = "#0072B2"
MODEL_COLOURS = {"original": "#E69F00", "unlearned": "#0072B2", "reference": "#009E73"}
MODEL_LABELS = {
    "original": "Before (original model)",
    "unlearned": "After (unlearned model)",
    "reference": "Retrained without them (reference)",
}
_ROLE_ORDER = ("original", "unlearned", "reference")
_SIGNAL_AXIS = {
    "loss": "loss (lower = the model is surer of the right age group)",
    "confidence": "confidence (logit-scaled; higher = more confident)",
}
_DPI = 120


def _png(fig: Figure) -> bytes:
    FigureCanvasAgg(fig)
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=_DPI, metadata={"Software": None})
    return buf.getvalue()


def _figure(width: float, height: float) -> Figure:
    fig = Figure(figsize=(width, height), layout="constrained")
    fig.set_facecolor("white")
    return fig


def _style(ax: Axes) -> None:
    ax.spines[["top", "right"]].set_visible(False)
    ax.grid(alpha=0.25, linewidth=0.6)


def _auc_of(report: VerificationReport, role: str, signal: str) -> float | None:
    evidence: ModelEvidence | None = getattr(report, role, None)
    if evidence is None:
        return None
    attack = evidence.loss_attack if signal == "loss" else evidence.confidence_attack
    return attack.auc


def histogram_png(report: VerificationReport, signal: str) -> bytes | None:
    """Forget vs holdout histograms of one signal, one panel per model (before, after, reference).

    Counts are shown as shares of each set (the sets differ in size). Returns None when the report holds no
    histogram of ``signal``.
    """
    hists: dict[str, Histogram] = {h.model: h for h in report.histograms if h.signal == signal}
    roles = [r for r in _ROLE_ORDER if r in hists]
    if not roles:
        return None
    fig = _figure(3.4 * len(roles) + 0.6, 3.3)
    axes = fig.subplots(1, len(roles), sharex=True, sharey=True, squeeze=False)[0]
    for ax, role in zip(axes, roles, strict=True):
        h = hists[role]
        for counts, colour, label in (
            (h.forget_counts, FORGET_COLOUR, "forget set (asked to be erased)"),
            (h.holdout_counts, HOLDOUT_COLOUR, "holdout (never trained on)"),
        ):
            total = max(int(np.sum(counts)), 1)
            share = np.asarray(counts, dtype=np.float64) / total
            ax.stairs(share, h.edges, fill=True, alpha=0.35, color=colour)
            ax.stairs(share, h.edges, color=colour, linewidth=1.6, label=label)
        auc = _auc_of(report, role, signal)
        title = MODEL_LABELS[role] + ("" if auc is None else f"\nattack AUC {auc:.2f}")
        ax.set_title(title, fontsize=10)
        ax.set_xlabel(_SIGNAL_AXIS[signal], fontsize=8.5)
        _style(ax)
    axes[0].set_ylabel("share of the set")
    axes[0].legend(fontsize=8, loc="upper right", frameon=False)
    return _png(fig)


def roc_png(report: VerificationReport) -> bytes:
    """The loss attack's ROC curve on each model, with the chance diagonal."""
    fig = _figure(5.2, 4.6)
    ax = fig.subplots()
    ax.plot([0, 1], [0, 1], linestyle=":", color="#555555", linewidth=1.2, label="guessing (AUC 0.50)")
    for role in _ROLE_ORDER:
        evidence: ModelEvidence | None = getattr(report, role)
        if evidence is None:
            continue
        roc = evidence.roc
        style = "-" if role == "unlearned" else "--"
        ax.plot(
            roc.fpr,
            roc.tpr,
            style,
            color=MODEL_COLOURS[role],
            linewidth=2.2 if role == "unlearned" else 1.6,
            label=f"{MODEL_LABELS[role]}: AUC {roc.auc:.2f}",
        )
    ax.set_xlim(0, 1)
    ax.set_ylim(0, 1.01)
    ax.set_xlabel("never-seen people wrongly flagged (false-positive rate)")
    ax.set_ylabel("forget-set examples caught (true-positive rate)")
    ax.legend(fontsize=8, loc="lower right", frameon=False)
    _style(ax)
    return _png(fig)


def _lira_results(lira: LiraReport) -> list[tuple[str, LiraResult]]:
    pairs: list[tuple[str, LiraResult | None]] = [
        ("original", lira.original),
        ("unlearned", lira.target),
        ("reference", lira.retrained),
    ]
    return [(role, result) for role, result in pairs if result is not None]


def lira_png(lira: LiraReport, *, flag_fprs: Sequence[float] = ()) -> bytes:
    """Per-example LiRA scores (p-values, log scale) of each model, or flagged fractions when none are held.

    Args:
        lira: the per-example evidence.
        flag_fprs: FPRs at which to draw the "flagged" line(s); default: those the report counted.
    """
    results = _lira_results(lira)
    fprs = sorted(flag_fprs or lira.target.flagged_fraction)
    if all(r.scores.size == 0 for _, r in results):
        return _lira_bars(results, fprs)
    fig = _figure(6.4, 3.8)
    ax = fig.subplots()
    floor = 1e-6
    edges = np.linspace(np.log10(floor), 0.0, 31)
    for role, result in results:
        if result.scores.size == 0:
            continue
        x = np.log10(np.clip(result.scores, floor, 1.0))
        counts = np.histogram(x, bins=edges)[0] / max(result.scores.size, 1)
        ax.stairs(counts, edges, color=MODEL_COLOURS[role], linewidth=1.8, label=MODEL_LABELS[role])
        ax.stairs(counts, edges, color=MODEL_COLOURS[role], fill=True, alpha=0.15)
    for fpr in fprs:
        ax.axvline(np.log10(fpr), color="#444444", linestyle="--", linewidth=1)
        ax.annotate(
            f"flagged below {fpr:.0%}",
            (np.log10(fpr), 0.5),
            xycoords=("data", "axes fraction"),
            rotation=90,
            va="center",
            ha="right",
            fontsize=7.5,
        )
    ticks = np.arange(int(np.log10(floor)), 1)
    ax.set_xticks(ticks, [f"{10.0**t:g}" for t in ticks])
    ax.set_xlabel("LiRA score (p-value; smaller = looks more like a remembered example)")
    ax.set_ylabel("share of forget-set examples")
    ax.legend(fontsize=8, loc="upper center", frameon=False)
    _style(ax)
    return _png(fig)


def _lira_bars(results: list[tuple[str, LiraResult]], fprs: Sequence[float]) -> bytes:
    fig = _figure(6.0, 3.6)
    ax = fig.subplots()
    width = 0.8 / max(len(results), 1)
    x = np.arange(len(fprs))
    for i, (role, result) in enumerate(results):
        values = [result.flagged_fraction.get(f, np.nan) for f in fprs]
        ax.bar(x + i * width, values, width, color=MODEL_COLOURS[role], label=MODEL_LABELS[role])
    ax.set_xticks(x + width * (len(results) - 1) / 2, [f"at {f:.0%} FPR" for f in fprs])
    ax.set_ylabel("share of forget-set examples flagged")
    ax.legend(fontsize=8, frameon=False)
    _style(ax)
    return _png(fig)


_SET_ORDER = ("retain", "holdout", "test", "forget")
SET_LABELS = {
    "retain": "kept training data",
    "holdout": "never-seen people",
    "test": "test set",
    "forget": "forget set",
}


def utility_png(utility: UtilityReport) -> bytes:
    """Accuracy per set (with 95% intervals) before, after and for the reference."""
    models = [
        (role, u)
        for role, u in (
            ("original", utility.original),
            ("unlearned", utility.unlearned),
            ("reference", utility.reference),
        )
        if u is not None
    ]
    names = [s for s in _SET_ORDER if any(s in u.accuracy for _, u in models)]
    names += sorted({s for _, u in models for s in u.accuracy} - set(names))
    fig = _figure(6.8, 3.6)
    ax = fig.subplots()
    width = 0.8 / max(len(models), 1)
    x = np.arange(len(names))
    for i, (role, u) in enumerate(models):
        est = [u.accuracy.get(s) for s in names]
        values = np.array([np.nan if e is None else e.value for e in est])
        low = np.array([np.nan if e is None else e.value - e.ci_low for e in est])
        high = np.array([np.nan if e is None else e.ci_high - e.value for e in est])
        ax.bar(
            x + i * width,
            values,
            width,
            # Interval ends can sit a rounding error on the wrong side of the value (e.g. a Wilson
            # interval at accuracy 0): matplotlib refuses negative error bars, so clip them at 0.
            yerr=np.clip(np.nan_to_num(np.stack([low, high])), 0.0, None),
            capsize=3,
            color=MODEL_COLOURS[role],
            label=MODEL_LABELS[role],
        )
    ax.set_xticks(x + width * (len(models) - 1) / 2, [SET_LABELS.get(s, s) for s in names])
    ax.set_ylim(0, 1.05)
    ax.set_ylabel("accuracy (age group right)")
    ax.legend(fontsize=8, frameon=False, loc="upper right")
    _style(ax)
    return _png(fig)
