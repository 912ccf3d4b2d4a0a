"""The probes: deterministic, run on a copy, and they see memorisation that the reference does not show."""

from __future__ import annotations

import torch

from deletion_sdk.verification.probes import perturbation_gap, relearning_gap, run_probes, weight_distance

from .conftest import Setting


def test_probes_see_the_originals_memory_not_the_retrained_models(setting: Setting) -> None:
    sets = {"forget": setting.forget, "holdout": setting.holdout, "device": "cpu"}
    before = {k: v.clone() for k, v in setting.original.state_dict().items()}
    remembers = perturbation_gap(setting.original, **sets)
    never_saw = perturbation_gap(setting.retrained, **sets)
    assert remembers > 0.5 and abs(never_saw) < 0.2
    relearned = relearning_gap(setting.original, retain=setting.retain, **sets)
    assert relearned > 0.3 > abs(relearning_gap(setting.retrained, retain=setting.retain, **sets))
    # the model under test is never changed
    assert all(torch.equal(v, setting.original.state_dict()[k]) for k, v in before.items())


def test_probes_are_deterministic_and_optional(setting: Setting) -> None:
    kwargs = {"forget": setting.forget, "holdout": setting.holdout, "retain": setting.retain, "device": "cpu"}
    first = run_probes(setting.original, original=setting.original, seed=3, **kwargs)
    assert first == run_probes(setting.original, original=setting.original, seed=3, **kwargs)
    assert first.weight_distance == 0.0
    only = run_probes(setting.retrained, relearn=False, seed=3, **kwargs)
    assert only.relearn_forget_accuracy_gap is None and only.perturbed_forget_accuracy_gap is not None
    assert only.weight_distance is None
    assert weight_distance(setting.retrained, setting.original) > 0.1
