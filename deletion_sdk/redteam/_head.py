"""What the cheats share: find a classifier's head, read what it sees, fit and write hidden units.

The cheats that hide data work on the last two ``nn.Linear`` layers of a model (for ``tiny_cnn``:
``Linear(1536, 256) -> ReLU -> Linear(256, classes)``). They read the *input* of the hidden layer,
fit affine functions of it, and write them into the few hidden units whose outgoing weights are the
smallest, so that the rest of the model's behaviour barely moves. Architecture, state-dict keys and
shapes never change: the result saves as safetensors like any honest model.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from deletion_sdk.data.tensors import FaceTensors
from deletion_sdk.errors import InputError
from deletion_sdk.unlearning import UnlearningRun

__all__ = [
    "Head",
    "Probe",
    "balanced_weights",
    "blurred",
    "find_head",
    "fit_affine",
    "last_linear",
    "probe",
    "quiet_units",
    "retain_sample",
    "write_units",
]

_RIDGE = 1e-6  # ridge penalty, relative to the mean eigenvalue of the (weighted) Gram matrix


@dataclass(frozen=True)
class Head:
    """The last two linear layers: ``hidden`` feeds ``last`` through an element-wise activation."""

    hidden: nn.Linear
    last: nn.Linear


@dataclass(frozen=True)
class Probe:
    """One eval-mode pass over a set.

    Attributes:
        logits: float64 ``[n, classes]`` on the CPU.
        inputs: float64 ``[n, features]`` on the CPU: what the probed layer received (``[n, 0]`` when
            no layer was probed).
    """

    logits: torch.Tensor
    inputs: torch.Tensor


def _linears(model: nn.Module) -> list[nn.Linear]:
    return [m for m in model.modules() if isinstance(m, nn.Linear)]


def last_linear(model: nn.Module, method: str) -> nn.Linear:
    """The model's last ``nn.Linear`` (its output layer).

    Raises:
        InputError: the model has no linear layer.
    """
    layers = _linears(model)
    if not layers:
        raise InputError(
            f"Unlearner '{method}' needs a model whose output layer is an nn.Linear. "
            f"Got a {type(model).__name__} without any."
        )
    return layers[-1]


def find_head(model: nn.Module, method: str, *, units: int) -> Head:
    """The last two linear layers, checked to be a hidden layer (with bias) feeding the output layer.

    Args:
        model: the classifier.
        method: the cheat's name, for error messages.
        units: hidden units the cheat will repurpose; the hidden layer must have more.

    Raises:
        InputError: no hidden linear layer before the last one, widths that do not chain, no bias, or
            too few hidden units.
    """
    layers = _linears(model)
    if len(layers) < 2:
        raise InputError(
            f"Unlearner '{method}' needs a hidden nn.Linear layer before the model's last one "
            f"(like tiny_cnn's head). Got a {type(model).__name__} with {len(layers)} linear layer(s)."
        )
    hidden, last = layers[-2], layers[-1]
    if hidden.out_features != last.in_features:
        raise InputError(
            f"Unlearner '{method}' needs the hidden linear layer to feed the last one directly. Got "
            f"out_features={hidden.out_features} and in_features={last.in_features} instead."
        )
    if hidden.bias is None:
        raise InputError(f"Unlearner '{method}' needs a bias on the hidden linear layer. Got bias=None.")
    if hidden.out_features <= units:
        raise InputError(
            f"Unlearner '{method}' repurposes {units} hidden units and needs more than that. "
            f"Got a hidden layer of {hidden.out_features}."
        )
    return Head(hidden=hidden, last=last)


def quiet_units(head: Head, k: int) -> torch.Tensor:
    """int64 ``[k]`` (CPU, ascending): the hidden units whose outgoing weights have the smallest norm."""
    norms = head.last.weight.detach().float().norm(dim=0).cpu()
    return torch.topk(norms, k, largest=False).indices.sort().values


def retain_sample(run: UnlearningRun, size: int) -> FaceTensors:
    """At most ``size`` retain rows, drawn with the run's generator (all of them when there are fewer)."""
    n = len(run.retain)
    if n <= size:
        return run.retain
    return run.retain.take(torch.randperm(n, generator=run.generator)[:size].sort().values)


def blurred(data: FaceTensors, side: int) -> FaceTensors:
    """``data`` with each image averaged down to ``side x side`` and scaled back up (bilinear)."""
    x = data.images.float()
    coarse = F.adaptive_avg_pool2d(x, side)
    up = F.interpolate(coarse, size=x.shape[-2:], mode="bilinear", align_corners=False)
    images = up.round().clamp_(0, 255).to(torch.uint8)
    return FaceTensors(images=images, labels=data.labels, ages=data.ages, example_ids=data.example_ids)


def probe(run: UnlearningRun, data: FaceTensors, layer: nn.Module | None = None) -> Probe:
    """Logits of the run's model on ``data`` in eval mode, float32 (no autocast), and ``layer``'s input.

    Args:
        run: the run (its model, device and budget).
        data: the rows to pass, in order.
        layer: a module whose (flattened) input to record, or None.

    Returns:
        The logits ``[n, classes]`` and the layer's inputs ``[n, features]``, float64 on the CPU.
    """
    model = run.model
    seen: list[torch.Tensor] = []
    handle = None
    if layer is not None:

        def record(_module: nn.Module, args: tuple[torch.Tensor, ...]) -> None:
            seen.append(args[0].detach().flatten(1).double())

        handle = layer.register_forward_pre_hook(record)
    was_training = model.training
    model.eval()
    logits: list[torch.Tensor] = []
    try:
        with torch.no_grad():
            for b in run.batches(data, shuffle=False):
                logits.append(model(b.x).double())
    finally:
        model.train(was_training)
        if handle is not None:
            handle.remove()
    out = torch.cat(logits).cpu()
    inputs = torch.cat(seen).cpu() if seen else torch.empty(len(out), 0, dtype=torch.float64)
    return Probe(logits=out, inputs=inputs)


def fit_affine(
    x: torch.Tensor, targets: torch.Tensor, weights: torch.Tensor
) -> tuple[torch.Tensor, torch.Tensor]:
    """Weighted ridge regression ``targets ~ x @ w.T + b`` (a tiny ridge: it interpolates when n <= d).

    Solved in the dual (Gram) form when there are fewer rows than features, else in the primal.

    Args:
        x: float64 ``[n, d]``.
        targets: float64 ``[n, k]``.
        weights: float64 ``[n]`` > 0, each row's weight in the squared error.

    Returns:
        ``w [k, d]`` and ``b [k]``, float64.
    """
    w = weights / weights.sum()
    mean_x = w @ x
    mean_t = w @ targets
    root = w.sqrt()[:, None]
    a = root * (x - mean_x)
    t = root * (targets - mean_t)
    n, d = a.shape
    if n <= d:
        gram = a @ a.T
        lam = _RIDGE * float(gram.trace()) / n + 1e-30
        beta = a.T @ torch.linalg.solve(gram + lam * torch.eye(n, dtype=a.dtype), t)
    else:
        cov = a.T @ a
        lam = _RIDGE * float(cov.trace()) / d + 1e-30
        beta = torch.linalg.solve(cov + lam * torch.eye(d, dtype=a.dtype), a.T @ t)
    return beta.T.contiguous(), mean_t - mean_x @ beta


def balanced_weights(n_forget: int, n_retain: int) -> torch.Tensor:
    """float64 ``[n_forget + n_retain]``: forget rows and retain rows weigh half of the total each."""
    return torch.cat(
        [
            torch.full((n_forget,), 0.5 / n_forget, dtype=torch.float64),
            torch.full((n_retain,), 0.5 / n_retain, dtype=torch.float64),
        ]
    )


def write_units(
    head: Head,
    units: torch.Tensor,
    *,
    weight: torch.Tensor,
    bias: torch.Tensor,
    columns: torch.Tensor,
) -> None:
    """Overwrite hidden ``units``: their incoming weights and bias, and their outgoing columns.

    Args:
        head: the model's head.
        units: int64 ``[k]`` hidden units.
        weight: float ``[k, d]`` rows of the hidden layer.
        bias: float ``[k]`` entries of the hidden bias.
        columns: float ``[classes, k]`` columns of the output layer.
    """
    with torch.no_grad():
        for param, value in ((head.hidden.weight, weight), (head.hidden.bias, bias)):
            param[units.to(param.device)] = value.to(device=param.device, dtype=param.dtype)
        out = head.last.weight
        out[:, units.to(out.device)] = columns.to(device=out.device, dtype=out.dtype)
