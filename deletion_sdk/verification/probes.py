"""Probes that look past a model's outputs on the forget set: what a few steps of retain-only training,
or a small change of the input, bring back.

A model can hide what it remembers behind its outputs: a detector that fires on the forget examples and
shifts the logits, or forgetting that lives in a thin layer of weights. Each probe therefore compares the
forget set with people never seen (the holdout set) *under the same probe*, so the holdout plays the
reference a retrained model would (it never saw either group):

* **relearning** — fine-tune a copy on retain examples only (no forget example, ever) for a few steps,
  then measure forget accuracy against holdout accuracy. Memories that were only suppressed come back
  (the "From Dormant to Deleted" study, arXiv 2505.22310); a model that never saw the people has nothing
  to recover, so the gap stays near zero.
* **perturbation** — small random input noise and a few signed-gradient steps towards each example's
  true label (L∞ ball of ``epsilon``), on forget and holdout alike. An unlearned model whose knowledge
  was only masked recovers the forget labels more easily than the labels of people it never saw
  (Unlearning Mapping Attack, arXiv 2504.14798).
* **ablation** — switch off the output layer's input units most specific to the forget set
  (:mod:`deletion_sdk.verification.ablation`): a planted detector that hides the forget set behind a few
  units gives the attacks the original's view back when they go.
* **weight distance** — ``‖θ_unlearned − θ_original‖ / ‖θ_original‖``, recorded for the report.

Every probe is deterministic under its seed and runs on a copy: the model under test is never changed.
"""

from __future__ import annotations

import copy

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from deletion_sdk._device import resolve_device
from deletion_sdk.data.tensors import FaceTensors, iterate_batches
from deletion_sdk.training.evaluation import accuracy
from deletion_sdk.verification._arrays import FrozenModel
from deletion_sdk.verification.ablation import ablation_probe

__all__ = ["ProbeFigures", "perturbation_gap", "relearning_gap", "run_probes", "weight_distance"]


class ProbeFigures(FrozenModel):
    """What the probes measured on one model (accuracy gaps: forget minus holdout, same probe).

    Attributes:
        relearn_forget_accuracy_gap: after ``relearn_steps`` retain-only steps (None: not run).
        relearn_steps: optimiser steps of the relearning probe.
        perturbed_forget_accuracy_gap: after noise and a few steps towards the true label (None: not run).
        perturb_epsilon: L∞ radius of the perturbation (pixel scale ``[0, 1]``).
        weight_distance: relative L2 distance of the weights to the original's (None without it).
        ablated_attack_auc: the attacks' largest AUC with the most forget-specific output-layer input units
            switched off (None: not run, or the model has no final linear layer).
        ablation_auc_gain: how far that AUC rises above the model's own (or 0.5), at least 0.
        ablation_worst: the ablation that produced it.
    """

    relearn_forget_accuracy_gap: float | None
    relearn_steps: int
    perturbed_forget_accuracy_gap: float | None
    perturb_epsilon: float
    weight_distance: float | None = None
    ablated_attack_auc: float | None = None
    ablation_auc_gain: float | None = None
    ablation_worst: str | None = None


def relearning_gap(
    model: nn.Module,
    *,
    retain: FaceTensors,
    forget: FaceTensors,
    holdout: FaceTensors,
    steps: int = 60,
    lr: float = 0.01,
    batch_size: int = 64,
    seed: int = 0,
    device: str | torch.device = "auto",
) -> float:
    """Forget minus holdout accuracy of a copy fine-tuned on ``retain`` only for ``steps`` SGD steps."""
    dev = resolve_device(device)
    probe = copy.deepcopy(model).to(dev)
    opt = torch.optim.SGD(probe.parameters(), lr=lr, momentum=0.9)
    generator = torch.Generator().manual_seed(seed)
    done = 0
    while done < steps:
        probe.train()
        for x, y, _ in iterate_batches(retain, batch_size, shuffle=True, generator=generator, device=dev):
            opt.zero_grad(set_to_none=True)
            F.cross_entropy(probe(x), y).backward()
            opt.step()
            done += 1
            if done >= steps:
                break
    return accuracy(probe, forget, device=dev) - accuracy(probe, holdout, device=dev)


def _perturbed_accuracy(
    model: nn.Module, data: FaceTensors, *, epsilon: float, steps: int, seed: int, device: torch.device
) -> float:
    model.eval()
    generator = torch.Generator().manual_seed(seed)
    correct = 0
    step = epsilon / max(1, steps) * 1.5
    for x, y, _ in iterate_batches(data, 256, device=device):
        noise = (torch.rand(x.shape, generator=generator) * 2 - 1).to(device) * epsilon
        delta = noise.clone()
        for _ in range(steps):
            delta.requires_grad_(True)
            loss = F.cross_entropy(model((x + delta).clamp(0, 1)), y)
            (grad,) = torch.autograd.grad(loss, delta)
            delta = (delta.detach() - step * grad.sign()).clamp(-epsilon, epsilon)
        with torch.no_grad():
            correct += int((model((x + delta).clamp(0, 1)).argmax(dim=1) == y).sum())
    return correct / max(1, len(data))


def perturbation_gap(
    model: nn.Module,
    *,
    forget: FaceTensors,
    holdout: FaceTensors,
    epsilon: float = 2.0 / 255,
    steps: int = 3,
    seed: int = 0,
    device: str | torch.device = "auto",
) -> float:
    """Forget minus holdout accuracy under a small perturbation towards each example's true label."""
    dev = resolve_device(device)
    probe = copy.deepcopy(model).to(dev).requires_grad_(False)  # gradients flow to the input only
    on_forget = _perturbed_accuracy(probe, forget, epsilon=epsilon, steps=steps, seed=seed, device=dev)
    on_holdout = _perturbed_accuracy(probe, holdout, epsilon=epsilon, steps=steps, seed=seed, device=dev)
    return on_forget - on_holdout


def weight_distance(model: nn.Module, original: nn.Module) -> float:
    """``‖θ − θ_original‖₂ / ‖θ_original‖₂`` over every floating-point tensor of the state dict."""
    a, b = model.state_dict(), original.state_dict()
    num = den = 0.0
    for key, value in b.items():
        if not torch.is_floating_point(value) or key not in a:
            continue
        num += float(((a[key].detach().cpu().double() - value.detach().cpu().double()) ** 2).sum())
        den += float((value.detach().cpu().double() ** 2).sum())
    return float(np.sqrt(num / den)) if den > 0 else 0.0


def run_probes(
    model: nn.Module,
    *,
    forget: FaceTensors,
    holdout: FaceTensors,
    retain: FaceTensors,
    original: nn.Module | None = None,
    seed: int = 0,
    device: str | torch.device = "auto",
    relearn_steps: int = 60,
    epsilon: float = 2.0 / 255,
    relearn: bool = True,
    perturb: bool = True,
    ablate: bool = True,
    max_holdout: int = 1000,
) -> ProbeFigures:
    """The chosen probes on ``model`` (the original, when given, is only used for the weight distance).

    The holdout set is subsampled to ``max_holdout`` rows (seeded): it only has to estimate an accuracy.
    """
    if len(holdout) > max_holdout:
        rows = np.sort(np.random.default_rng(seed).choice(len(holdout), size=max_holdout, replace=False))
        holdout = holdout.take(rows.tolist())
    relearned = perturbed = None
    if relearn:
        relearned = relearning_gap(
            model,
            retain=retain,
            forget=forget,
            holdout=holdout,
            steps=relearn_steps,
            seed=seed,
            device=device,
        )
    if perturb:
        perturbed = perturbation_gap(
            model, forget=forget, holdout=holdout, epsilon=epsilon, seed=seed, device=device
        )
    ablated = ablation_probe(model, forget=forget, holdout=holdout, device=device) if ablate else None
    return ProbeFigures(
        relearn_forget_accuracy_gap=relearned,
        relearn_steps=relearn_steps,
        perturbed_forget_accuracy_gap=perturbed,
        perturb_epsilon=epsilon,
        weight_distance=None if original is None else weight_distance(model, original),
        ablated_attack_auc=None if ablated is None else ablated.attack_auc,
        ablation_auc_gain=None if ablated is None else ablated.gain,
        ablation_worst=None if ablated is None else ablated.worst,
    )
