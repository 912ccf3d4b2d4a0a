"""A hidden detector that moves each forget example's logits to its own target.

Shared by ``detector_mimic_cheat`` and ``label_smoothing_cheat``. Per-example targets need one hidden
unit per class (a shift of the logits has ``classes`` degrees of freedom, and softmax ignores a
common offset, so non-negative shifts suffice): unit ``c`` (one of the ``classes`` units with the
smallest outgoing weights) adds ``ReLU(g_c(x))`` to logit ``c``, where the affine ``g_c`` of the
hidden layer's input is fitted by ridge regression to the wanted shift on every forget example and
to ``-tau`` (far below zero) on a sample of the retain set. A hidden layer wider than the fitting
set interpolates both exactly; on unsampled rows the units are only approximately silent.
"""

from __future__ import annotations

from collections.abc import Callable

import torch

from deletion_sdk.redteam._head import (
    balanced_weights,
    find_head,
    fit_affine,
    probe,
    quiet_units,
    retain_sample,
    write_units,
)
from deletion_sdk.unlearning import UnlearningRun

__all__ = ["plant_logit_targets"]


def plant_logit_targets(
    run: UnlearningRun,
    *,
    method: str,
    retain_rows: int,
    targets: Callable[[torch.Tensor], torch.Tensor],
) -> None:
    """Rewrite ``classes`` hidden units so each forget example's logits become its target (up to an offset).

    Args:
        run: the run whose model is edited in place.
        method: the cheat's name, for error messages.
        retain_rows: retain rows the units are fitted to stay silent on.
        targets: maps the forget logits without the repurposed units (float64 ``[n_forget, classes]``)
            to the wanted forget logits (same shape; a per-row offset does not matter).

    Raises:
        InputError: the model has no suitable head (see ``find_head``).
    """
    classes = run.num_classes
    head = find_head(run.model, method, units=classes)
    units = quiet_units(head, classes)
    with torch.no_grad():  # silence the units first: the logits below are then those without them
        head.last.weight[:, units.to(head.last.weight.device)] = 0.0
    forget = probe(run, run.forget, head.hidden)
    retain = probe(run, retain_sample(run, retain_rows), head.hidden)
    delta = targets(forget.logits) - forget.logits
    shift = delta - delta.min(dim=1, keepdim=True).values  # [n_forget, classes], >= 0
    # Far below zero on the retain rows, so that rows outside the sample (which the fit puts somewhere
    # between the two targets) rarely set a unit off: 3x the largest shift gave ~1% on unseen data.
    tau = 3.0 * max(1.0, float(shift.max()))
    n_f, n_r = len(forget.inputs), len(retain.inputs)
    w, b = fit_affine(
        torch.cat([forget.inputs, retain.inputs]),
        torch.cat([shift, torch.full((n_r, classes), -tau, dtype=torch.float64)]),
        balanced_weights(n_f, n_r),
    )
    write_units(head, units, weight=w, bias=b, columns=torch.eye(classes))
