"""CUDA path of the training loop (bf16 autocast, channels_last, data resident on the device)."""

from __future__ import annotations

import math
from pathlib import Path

import pytest
import torch

from deletion_sdk.data import default_age_predictor_data
from deletion_sdk.training import (
    CheckpointMetadata,
    TrainConfig,
    load_checkpoint,
    predict_logits,
    save_checkpoint,
    train_model,
)

pytestmark = pytest.mark.gpu


def test_trains_on_cuda_and_round_trips(tmp_path: Path) -> None:
    data = default_age_predictor_data(0, size="tiny")
    config = TrainConfig(epochs=3, batch_size=64, augment_flip=True, class_weighted=True)
    result = train_model(data.train, config=config, device="cuda", eval_sets={"holdout": data.holdout})
    m = result.metrics
    assert m.device.startswith("cuda")
    assert next(result.model.parameters()).is_cuda
    assert all(math.isfinite(v) for v in m.epoch_losses) and m.epoch_losses[-1] < m.epoch_losses[0]
    assert 0 <= m.accuracy["holdout"] <= 1
    saved = save_checkpoint(
        result.model,
        tmp_path,
        metadata=CheckpointMetadata(architecture="tiny_cnn", num_classes=10, image_size=32),
    )
    loaded = load_checkpoint(saved.weights_path, expected_digest=saved.digest, device="cuda")
    a = predict_logits(result.model, data.holdout)
    b = predict_logits(loaded.model, data.holdout)
    assert torch.allclose(a, b, atol=1e-2)


def test_resnet18_step_on_cuda() -> None:
    data = default_age_predictor_data(1, size="tiny")
    result = train_model(
        data.train.take(range(128)),
        config=TrainConfig(arch="resnet18", epochs=1, batch_size=64),
        device="cuda",
    )
    assert result.metrics.steps == 2 and math.isfinite(result.metrics.train_loss)
