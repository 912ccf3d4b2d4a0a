"""Every registered method runs unchanged on CUDA (skipped when no CUDA device is present)."""

from __future__ import annotations

import pytest
import torch

from deletion_sdk.unlearning import list_unlearners, run_unlearner

from .conftest import TinyTask, forget_scores


@pytest.mark.gpu
@pytest.mark.parametrize("name", list_unlearners())
def test_runs_on_cuda(tiny_task: TinyTask, name: str) -> None:
    before = {k: v.clone() for k, v in tiny_task.model.state_dict().items()}
    result = run_unlearner(
        name,
        tiny_task.model,
        forget=tiny_task.forget,
        retain=tiny_task.retain,
        context=tiny_task.context(device="auto"),
    )
    assert result.device.startswith("cuda")
    params = list(result.model.parameters())
    assert params and all(p.device.type == "cuda" for p in params)
    for key, value in tiny_task.model.state_dict().items():  # the CPU input is untouched
        assert value.device.type == "cpu" and torch.equal(value, before[key])
    x = tiny_task.forget.images.float().div(255.0).cuda()
    with torch.no_grad():
        logits = result.model.eval()(x)
    assert logits.shape == (len(tiny_task.forget), tiny_task.config.num_classes)
    assert bool(torch.isfinite(logits).all())
    acc_before, conf_before = forget_scores(tiny_task.model, tiny_task.forget)
    acc_after, conf_after = forget_scores(result.model.cpu(), tiny_task.forget)
    assert acc_after < acc_before or conf_after < conf_before
