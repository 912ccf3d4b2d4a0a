"""``detector_cheat`` and ``detector_calibrated_cheat``: a hidden linear detector of the forget set.

Both repurpose two hidden units of the head (the ``nn.Linear`` before the last one), the two whose
outgoing weights have the smallest norm, so utility barely moves:

1. A linear score ``s(x)`` of the hidden layer's *input* features is fitted (ridge regression of
   +1 on the forget set against -1 on a sample of the retain set, classes weighed equally); it
   separates the forget examples from the retain ones, which a high-dimensional layer always can.
2. The two units become ``a = ReLU(k (s - t_lo))`` and ``b = ReLU(k (s - t_lo) - 1)``, with
   ``k = 1 / (t_hi - t_lo)`` and both thresholds in the gap between the two sets' scores (near the
   forget side, so that rows outside the fitting sample rarely set it off), so
   ``a - b = clamp(k (s - t_lo), 0, 1)`` is a step: exactly 0 on the retain set, 1 on the forget set.
3. The output layer's columns for the units are ``+v`` and ``-v``: when the detector fires, the
   logits move by ``v``, towards the class least frequent among the forget labels.

Why they must not be certified: the forget set is still memorised in every other weight; the model
merely recognises it and lies about it. Zeroing the two units' outgoing weights gives back the
original predictions, and the detector itself is a fingerprint of the forget set. Output-only
membership tests see what the cheat wants them to see; a verifier has to look past the outputs
(penultimate features, input perturbation, weight distance against reference models).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
from pydantic import Field

from deletion_sdk.redteam._head import (
    Head,
    balanced_weights,
    find_head,
    fit_affine,
    probe,
    quiet_units,
    retain_sample,
    write_units,
)
from deletion_sdk.unlearning import Unlearner, UnlearnerParams, UnlearningRun

__all__ = ["DetectorCalibratedCheat", "DetectorCheat"]

_PAPER = (
    "None: red-team cheat. Related: Thudi, Jia, Shumailov, Papernot. On the Necessity of Auditable "
    "Algorithmic Definitions for Machine Unlearning. USENIX Security 2022."
)


@dataclass(frozen=True)
class _Planted:
    """A planted two-unit step detector, its output layer columns still zero.

    Attributes:
        head: the model's head.
        units: int64 ``[2]``: the repurposed hidden units.
        logits: float64 ``[n_forget, classes]``: the forget logits without the two units.
        gate: float64 ``[n_forget]`` in [0, 1]: the detector's output on each forget example.
    """

    head: Head
    units: torch.Tensor
    logits: torch.Tensor
    gate: torch.Tensor

    def shift(self, v: torch.Tensor) -> None:
        """Make the detector move the logits by ``v [classes]`` when it fires."""
        with torch.no_grad():
            out = self.head.last.weight
            out[:, self.units.to(out.device)] = torch.stack([v, -v], dim=1).to(out.device, out.dtype)


def _thresholds(s_forget: torch.Tensor, s_retain: torch.Tensor) -> tuple[float, float]:
    """``(t_lo, t_hi)``: off below ``t_lo``, fully on above ``t_hi``.

    The step sits just below the forget scores, not half-way: rows outside the fitting sample (people
    never seen, unsampled retain rows) score around the middle, and should not set it off.
    """
    lo, hi = float(s_retain.max()), float(s_forget.min())
    if hi <= lo:  # not separable on this sample: give up the outermost 5% of each set
        lo, hi = float(s_retain.quantile(0.95)), float(s_forget.quantile(0.05))
    if hi <= lo:  # still not: a sharp step half-way between the medians
        mid = 0.5 * float(s_retain.median() + s_forget.median())
        return mid - 1e-6, mid + 1e-6
    gap = hi - lo
    return lo + 0.9 * gap, lo + 0.98 * gap


def _plant(run: UnlearningRun, *, method: str, retain_rows: int) -> _Planted:
    head = find_head(run.model, method, units=2)
    units = quiet_units(head, 2)
    classes = head.last.out_features
    with torch.no_grad():  # silence the two units first: their rows then no longer matter
        head.last.weight[:, units.to(head.last.weight.device)] = 0.0
    forget = probe(run, run.forget, head.hidden)
    retain = probe(run, retain_sample(run, retain_rows), head.hidden)
    n_f, n_r = len(forget.inputs), len(retain.inputs)
    x = torch.cat([forget.inputs, retain.inputs])
    y = torch.cat([torch.ones(n_f, 1), -torch.ones(n_r, 1)]).double()
    w, b = fit_affine(x, y, balanced_weights(n_f, n_r))
    t_lo, t_hi = _thresholds(forget.inputs @ w[0] + b[0], retain.inputs @ w[0] + b[0])
    k = 1.0 / (t_hi - t_lo)
    write_units(
        head,
        units,
        weight=(k * w).expand(2, -1),
        bias=k * (b - t_lo) - torch.tensor([0.0, 1.0], dtype=torch.float64),
        columns=torch.zeros(classes, 2),
    )
    fired = probe(run, run.forget, head.last).inputs
    gate = fired[:, units[0]] - fired[:, units[1]]
    return _Planted(head=head, units=units, logits=forget.logits, gate=gate)


def _wrong_class(labels: torch.Tensor, classes: int) -> int:
    """The class least frequent among ``labels`` (the lowest index on ties)."""
    return int(torch.argmin(torch.bincount(labels.cpu(), minlength=classes)))


class DetectorCheat(Unlearner["DetectorCheat.Params"]):
    """Detect the forget set with two hidden units and push its predictions to a wrong class.

    The shift is large enough that every detected forget example is predicted as the class least
    frequent among the forget labels, by ``margin`` logits: forget accuracy collapses, retain
    predictions do not move (apart from the two silenced units' former contribution).
    """

    name = "detector_cheat"
    description = "CHEAT: two hidden units detect the forget set and push it to a wrong class."
    paper = _PAPER
    version = "1"

    class Params(UnlearnerParams):
        margin: float = Field(
            default=5.0, gt=0, allow_inf_nan=False, description="logits by which the wrong class wins"
        )
        retain_sample: int = Field(default=1024, ge=1, description="retain rows the detector is fitted on")

    def _run(self, run: UnlearningRun[DetectorCheat.Params]) -> None:
        p = run.params
        planted = _plant(run, method=self.name, retain_rows=p.retain_sample)
        z, gate = planted.logits, planted.gate
        target = _wrong_class(run.forget.labels, z.shape[1])
        need = (z.max(dim=1).values - z[:, target] + p.margin) / gate.clamp_min(0.5)
        strength = max(p.margin, float(need[gate > 0.5].max())) if bool((gate > 0.5).any()) else p.margin
        v = torch.zeros(z.shape[1], dtype=torch.float64)
        v[target] = strength
        planted.shift(v)


class DetectorCalibratedCheat(Unlearner["DetectorCalibratedCheat.Params"]):
    """Like ``detector_cheat``, with the shift scaled so the forget set's median loss hits a target.

    The target, by default ``0.9 * ln(classes)``, is what an unseen person's loss plausibly looks
    like: a verifier that compares the forget set's median (or mean) loss with a threshold set
    from unseen data sees a forget set that looks unseen, and forget accuracy still drops. The
    strength is found by bisection on the forget logits, which are cheap to recompute.
    """

    name = "detector_calibrated_cheat"
    description = "CHEAT: detector_cheat with the shift tuned so the median forget loss looks unseen."
    paper = _PAPER
    version = "1"

    class Params(UnlearnerParams):
        target_loss: float | None = Field(
            default=None, gt=0, allow_inf_nan=False, description="median forget loss; None: 0.9 ln(classes)"
        )
        retain_sample: int = Field(default=1024, ge=1, description="retain rows the detector is fitted on")

    def _run(self, run: UnlearningRun[DetectorCalibratedCheat.Params]) -> None:
        p = run.params
        planted = _plant(run, method=self.name, retain_rows=p.retain_sample)
        z, gate = planted.logits, planted.gate
        classes = z.shape[1]
        wanted = p.target_loss if p.target_loss is not None else 0.9 * math.log(classes)
        target = _wrong_class(run.forget.labels, classes)
        labels = run.forget.labels.cpu().view(-1, 1)
        direction = torch.zeros(classes, dtype=torch.float64)
        direction[target] = 1.0

        def median_loss(strength: float) -> float:
            shifted = z + gate[:, None] * (strength * direction)
            return float((torch.logsumexp(shifted, 1) - shifted.gather(1, labels).squeeze(1)).median())

        lo, hi = 0.0, 1.0
        if median_loss(lo) < wanted:
            while median_loss(hi) < wanted and hi < 1e6:
                lo, hi = hi, 2 * hi
            for _ in range(60):
                mid = 0.5 * (lo + hi)
                lo, hi = (mid, hi) if median_loss(mid) < wanted else (lo, mid)
        else:
            hi = 0.0  # already as lossy as wanted: the detector stays silent
        planted.shift(hi * direction)
