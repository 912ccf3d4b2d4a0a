"""The ablation probe: switch off the output layer's input units most specific to the forget set and see
whether the membership signal comes back.

A model can keep everything it learned about the forget set and hide it behind a few hidden units that
recognise those examples and shift their logits (a planted detector). Retain-only relearning never
activates such units and they pass no gradient to an input perturbation, so the other probes miss them.
Their signature is twofold: they are far more active on the forget set than on people never seen, and
*removing them* gives the attacks back the original model's view of the forget set. A model that really
forgot has no such units: removing its most forget-specific units moves forget and holdout alike.

The probe works on the last ``nn.Linear`` layer (the one whose output is the model's logits). With its
input ``h [n, units]``, weight ``W [classes, units]`` and the logits ``z``, switching off a set of units
``S`` gives ``z − h[:, S] W[:, S]ᵀ``, so every ablation comes from one forward pass. Units are ranked by
the absolute standardised difference of their mean activation on forget and holdout; the ``k`` most
specific (``k`` = 1, 2, 4, 8) are switched off together, and the loss and margin attacks' ROC AUCs
(forget vs holdout) are measured on each ablated model. The figure a policy judges is the **gain**: the
largest AUC over these four ablations minus the model's own AUC (or 0.5, whichever is larger). A planted
detector gives back the original's view (measured gain about 0.2–0.3: AUC 0.38–0.50 with the detector,
0.72–0.76 without it); a retrained model's most forget-specific units move its AUC by a few hundredths
(BENCHMARKS.md). The gain, not the ablated AUC itself, is judged so that an honest model already close to
its AUC limit is not failed for the noise of its most forget-specific units.

Limits: a detector before the last linear layer, or one spread so that no unit of it stands out from the
activation noise of people never seen (e.g. pairs of units whose common part cancels in the output), is
not switched off by these ablations (see the threat model).
"""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from deletion_sdk._device import resolve_device
from deletion_sdk.data.tensors import FaceTensors, iterate_batches
from deletion_sdk.verification._arrays import FrozenModel
from deletion_sdk.verification.attacks import _auc_rows
from deletion_sdk.verification.signals import logit_margin, per_example_loss

__all__ = ["GROUP_SIZES", "AblationFigures", "ablation_probe", "output_layer"]

GROUP_SIZES = (1, 2, 4, 8)


class AblationFigures(FrozenModel):
    """What the ablation probe found.

    Attributes:
        attack_auc: the largest loss- or margin-attack AUC over the ablations tried.
        baseline_auc: the same with nothing switched off.
        gain: ``attack_auc − max(baseline_auc, 0.5)``, at least 0: the membership signal the ablation gave
            back beyond what the model shows anyway (an over-forgotten model's AUC below 0.5 counts as 0.5).
        worst: the ablation that produced ``attack_auc`` (``"top 2 forget-specific units"``).
        max_specificity: the largest standardised activation difference of one unit, forget vs holdout.
        units: the output layer's input width.
    """

    attack_auc: float
    baseline_auc: float
    gain: float
    worst: str
    max_specificity: float
    units: int


def output_layer(model: nn.Module) -> nn.Linear | None:
    """The last ``nn.Linear`` in module order, or None when the model has none."""
    last = None
    for module in model.modules():
        if isinstance(module, nn.Linear):
            last = module
    return last


@torch.no_grad()
def _inputs(model: nn.Module, layer: nn.Linear, data: FaceTensors, device: torch.device) -> torch.Tensor:
    """The output layer's input ``[n, units]`` (float64, CPU); checks that the layer's output is the logits.

    Raises:
        ValueError: the model's output is not the layer's (something follows the last linear layer).
    """
    captured: list[torch.Tensor] = []
    handle = layer.register_forward_hook(lambda _m, args, _out: captured.append(args[0].detach()))
    try:
        for x, _, _ in iterate_batches(data, 512, device=device):
            before = len(captured)
            logits = model(x)
            if len(captured) != before + 1:
                raise ValueError("the last linear layer ran more or less than once per forward pass")
            recomputed = F.linear(captured[-1], layer.weight, layer.bias)
            if not torch.allclose(recomputed.float(), logits.float(), rtol=1e-4, atol=1e-4):
                raise ValueError("the model's output is not its last linear layer's")
    finally:
        handle.remove()
    if not captured:
        return torch.empty(0, layer.in_features, dtype=torch.float64)
    return torch.cat([c.flatten(1) for c in captured]).double().cpu()


def _attack_auc(
    z_forget: torch.Tensor, y_forget: torch.Tensor, z_holdout: torch.Tensor, y_holdout: torch.Tensor
) -> float:
    """The larger of the loss and margin attacks' AUCs, forget (members) vs holdout."""
    loss_f, loss_h = per_example_loss(z_forget, y_forget), per_example_loss(z_holdout, y_holdout)
    margin_f, margin_h = logit_margin(z_forget, y_forget), logit_margin(z_holdout, y_holdout)
    rows = _auc_rows(np.stack([-loss_f, margin_f]), np.stack([-loss_h, margin_h]))
    return float(rows.max())


def ablation_probe(
    model: nn.Module,
    *,
    forget: FaceTensors,
    holdout: FaceTensors,
    device: str | torch.device = "auto",
) -> AblationFigures | None:
    """The attacks' largest AUC with the most forget-specific output-layer input units switched off.

    Args:
        model: the model under test (not changed).
        forget: the forgotten examples.
        holdout: people never trained on.
        device: where the forward passes run.

    Returns:
        The figures, or None when the model has no final linear layer to probe (not measured).
    """
    layer = output_layer(model)
    if layer is None or len(forget) == 0 or len(holdout) == 0:
        return None
    dev = resolve_device(device)
    was_training = model.training
    model.eval()
    try:
        h_f = _inputs(model, layer, forget, dev)
        h_h = _inputs(model, layer, holdout, dev)
    except ValueError:
        return None
    finally:
        model.train(was_training)
    w = layer.weight.detach().double().cpu()
    b = (
        layer.bias.detach().double().cpu()
        if layer.bias is not None
        else torch.zeros(w.shape[0], dtype=torch.float64)
    )
    units = w.shape[1]
    pooled = torch.sqrt(0.5 * (h_f.var(dim=0, unbiased=False) + h_h.var(dim=0, unbiased=False))) + 1e-12
    specificity = ((h_f.mean(dim=0) - h_h.mean(dim=0)) / pooled).abs()
    order = torch.argsort(specificity, descending=True, stable=True)
    y_f, y_h = forget.labels.cpu(), holdout.labels.cpu()
    baseline = _attack_auc(h_f @ w.T + b, y_f, h_h @ w.T + b, y_h)
    best, worst = baseline, "nothing"
    for k in GROUP_SIZES:
        if k >= units:
            break
        off = torch.ones(units, dtype=torch.float64)
        off[order[:k]] = 0.0
        auc = _attack_auc((h_f * off) @ w.T + b, y_f, (h_h * off) @ w.T + b, y_h)
        if auc > best:
            best, worst = auc, f"top {k} forget-specific unit{'s' if k > 1 else ''}"
    return AblationFigures(
        attack_auc=best,
        baseline_auc=baseline,
        gain=max(0.0, best - max(baseline, 0.5)),
        worst=worst,
        max_specificity=float(specificity.max()),
        units=units,
    )
