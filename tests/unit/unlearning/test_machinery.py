"""The shared machinery: masks, per-weight update scaling, gradient statistics."""

from __future__ import annotations

import torch

from deletion_sdk.training import TrainConfig
from deletion_sdk.unlearning import UnlearningContext, run_unlearner
from deletion_sdk.unlearning._run import UnlearningRun, top_fraction_masks
from deletion_sdk.unlearning.methods import SalUn

from .conftest import TinyTask


def test_top_fraction_masks_select_exactly_k_despite_ties() -> None:
    # Regression: a threshold on |grad| selected every weight when more than half were exactly 0.
    scores = {"a": torch.zeros(6), "b": torch.tensor([[0.0, 3.0], [1.0, 0.0]])}
    top = top_fraction_masks(scores, 0.5)
    assert sum(int(m.sum()) for m in top.values()) == 5
    assert top["b"][0, 1] and top["b"][1, 0]
    low = top_fraction_masks(scores, 0.2, largest=False)
    assert sum(int(m.sum()) for m in low.values()) == 2
    assert not low["b"][0, 1] and not low["b"][1, 0]
    assert top["b"].shape == (2, 2) and top["a"].dtype == torch.bool


def _run_for(task: TinyTask) -> UnlearningRun:
    context = UnlearningContext(
        device="cpu", train_config=task.config.model_copy(update={"weight_decay": 0.1})
    )
    model = task.model.__class__(num_classes=task.config.num_classes, image_size=task.config.image_size)
    model.load_state_dict(task.model.state_dict())
    return UnlearningRun(
        method="t",
        model=model,
        forget=task.forget,
        retain=task.retain,
        params=SalUn.Params(),
        context=context,
        device=torch.device("cpu"),
        budget_s=None,
        start=0.0,
    )


def test_update_scale_freezes_and_damps_weights_under_adamw_with_decay(tiny_task: TinyTask) -> None:
    run = _run_for(tiny_task)
    assert isinstance(run.train_config, TrainConfig) and run.train_config.optimizer == "adam"
    params = [p for p in run.model.parameters() if p.dim() > 1]
    frozen, damped = params[0], params[1]
    before_frozen, before_damped = frozen.detach().clone(), damped.detach().clone()
    opt = run.optimizer(1.0)
    batch = next(run.batches(run.retain))
    loss = torch.nn.functional.cross_entropy(run.forward(batch.x), batch.y)
    run.step(loss, opt, update_scale=[(frozen, torch.tensor(0.0)), (damped, torch.tensor(0.1))])
    assert torch.equal(frozen, before_frozen)
    moved = (damped - before_damped).abs().sum()
    assert moved > 0
    assert run.steps == 1


def test_gradients_leave_model_and_batchnorm_statistics_alone(tiny_task: TinyTask) -> None:
    run = _run_for(tiny_task)
    run.model.train()
    before = {k: v.clone() for k, v in run.model.state_dict().items()}
    grads = run.gradients(run.forget, torch.nn.functional.cross_entropy, square=True)
    assert set(grads) == {n for n, _ in run.model.named_parameters()}
    assert all(bool((g >= 0).all()) for g in grads.values())
    assert all(torch.equal(before[k], v) for k, v in run.model.state_dict().items())
    assert run.model.training
    assert all(p.grad is None for p in run.model.parameters())


def test_salun_moves_at_most_its_mask_ratio_of_weights(tiny_task: TinyTask) -> None:
    result = run_unlearner(
        "salun",
        tiny_task.model,
        forget=tiny_task.forget,
        retain=tiny_task.retain,
        context=tiny_task.context(),
        params={"mask_ratio": 0.25},
    )
    original = dict(tiny_task.model.named_parameters())
    changed = total = 0
    for name, p in result.model.named_parameters():
        changed += int((p != original[name]).sum())
        total += p.numel()
    assert 0 < changed <= round(0.25 * total)
