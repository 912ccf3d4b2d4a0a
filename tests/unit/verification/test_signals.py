"""Per-example signals: logit-scaled confidence, loss, entropy, and signals of a real model."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from deletion_sdk.errors import InputError
from deletion_sdk.verification import (
    Signals,
    compute_signals,
    logit_scaled_confidence,
    per_example_loss,
    prediction_entropy,
    signals_from_logits,
)

from .conftest import Setting


def test_confidence_is_log_odds_of_the_true_class() -> None:
    logits = np.array([[2.0, 1.0, 0.0], [0.0, 0.0, 0.0], [-1.0, 3.0, 0.5]])
    targets = np.array([0, 2, 1])
    p = np.exp(logits) / np.exp(logits).sum(axis=1, keepdims=True)
    expected = [math.log(p[i, t]) - math.log(1 - p[i, t]) for i, t in enumerate(targets)]
    np.testing.assert_allclose(logit_scaled_confidence(logits, targets), expected, rtol=1e-12)
    assert logit_scaled_confidence(logits, targets)[1] == pytest.approx(math.log(1 / 3) - math.log(2 / 3))


def test_confidence_is_stable_and_finite_for_extreme_logits() -> None:
    logits = torch.tensor([[1000.0, -1000.0], [-1000.0, 1000.0], [1e4, 0.0]])
    conf = logit_scaled_confidence(logits, torch.tensor([0, 0, 0]))
    assert np.all(np.isfinite(conf))
    # p_y = 1, rest 0 -> log(1 + 1e-45) - log(1e-45); p_y = 0 -> the reverse
    assert conf[0] == pytest.approx(-math.log(1e-45))
    assert conf[1] == pytest.approx(math.log(1e-45))
    assert conf[2] == conf[0]


def test_loss_and_entropy_match_torch() -> None:
    g = torch.Generator().manual_seed(0)
    logits = torch.randn(50, 7, generator=g) * 4
    targets = torch.randint(0, 7, (50,), generator=g)
    expected = F.cross_entropy(logits.double(), targets, reduction="none").numpy()
    np.testing.assert_allclose(per_example_loss(logits, targets), expected, rtol=1e-10)
    probs = torch.softmax(logits.double(), dim=1)
    np.testing.assert_allclose(prediction_entropy(logits), -(probs * probs.log()).sum(1).numpy(), rtol=1e-9)
    assert prediction_entropy(np.zeros((1, 5)))[0] == pytest.approx(math.log(5))


def test_invalid_inputs_name_the_parameter() -> None:
    with pytest.raises(InputError, match="'targets'"):
        logit_scaled_confidence(np.zeros((3, 4)), np.array([0, 1]))
    with pytest.raises(InputError, match=r"class indices in \[0, 3\]"):
        logit_scaled_confidence(np.zeros((2, 4)), np.array([0, 4]))
    with pytest.raises(InputError, match="2-dimensional"):
        per_example_loss(np.zeros(4), np.array([0]))
    with pytest.raises(InputError, match="finite"):
        logit_scaled_confidence(np.array([[np.nan, 0.0]]), np.array([0]))
    with pytest.raises(InputError, match="integer"):
        logit_scaled_confidence(np.zeros((1, 2)), np.array([0.5]))


def test_signals_of_a_trained_model(setting: Setting) -> None:
    sig = compute_signals(setting.original, setting.forget, device="cpu")
    assert sig.n == len(setting.forget)
    assert sig.num_classes == 4
    logits = setting.original(setting.forget.images.float() / 255.0).detach()
    expected = logit_scaled_confidence(logits, setting.forget.labels)
    np.testing.assert_allclose(sig.confidence, expected, atol=1e-4)
    np.testing.assert_array_equal(sig.predicted, logits.argmax(1).numpy())
    np.testing.assert_array_equal(sig.correct, sig.predicted == setting.forget.labels.numpy())
    assert sig.ages is not None
    # the model memorised its training set: the forget examples are fitted better than unseen ones
    unseen = compute_signals(setting.original, setting.holdout)
    assert np.median(sig.loss) < np.median(unseen.loss)
    assert np.median(sig.confidence) > np.median(unseen.confidence)
    assert Signals.model_validate_json(sig.model_dump_json()) == sig


def test_empty_signals() -> None:
    sig = signals_from_logits(np.empty((0, 3)), np.empty(0, dtype=np.int64))
    assert sig.n == 0
    assert math.isnan(sig.accuracy)


def test_the_margin_is_scale_free_and_needs_no_softmax() -> None:
    import numpy as np

    from deletion_sdk.verification import signals

    rng = np.random.default_rng(0)
    z = rng.normal(size=(200, 5)).astype(np.float32)
    y = rng.integers(0, 5, size=200)
    m = signals.logit_margin(z, y)
    expected = z[np.arange(200), y] - np.where(np.eye(5, dtype=bool)[y], -np.inf, z).max(axis=1)
    np.testing.assert_allclose(m, expected)
    tiny = signals.logit_margin(z / np.float32(1e20), y)
    assert np.array_equal(np.argsort(tiny, kind="stable"), np.argsort(m, kind="stable"))
    assert np.unique(signals.per_example_loss(z / np.float32(1e20), y)).size == 1  # the loss ties
