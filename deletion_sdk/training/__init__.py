"""Age-predictor architectures, the training loop, evaluation helpers and safe checkpoints."""

from __future__ import annotations

from deletion_sdk.training.architectures import (
    Architecture,
    ResNet18,
    TinyCNN,
    available_architectures,
    build_model,
    get_architecture,
    register_architecture,
    unregister_architecture,
)
from deletion_sdk.training.checkpoints import (
    CheckpointMetadata,
    LoadedCheckpoint,
    SavedCheckpoint,
    load_checkpoint,
    save_checkpoint,
    sha256_file,
    training_root,
)
from deletion_sdk.training.config import TrainConfig
from deletion_sdk.training.evaluation import (
    EvalMetrics,
    accuracy,
    evaluate,
    example_losses,
    mae_years,
    metrics_from_logits,
)
from deletion_sdk.training.inference import predict_logits
from deletion_sdk.training.loop import (
    TrainMetrics,
    TrainResult,
    class_weights,
    make_optimizer,
    make_scheduler,
    train_model,
)

__all__ = [
    "Architecture",
    "CheckpointMetadata",
    "EvalMetrics",
    "LoadedCheckpoint",
    "ResNet18",
    "SavedCheckpoint",
    "TinyCNN",
    "TrainConfig",
    "TrainMetrics",
    "TrainResult",
    "accuracy",
    "available_architectures",
    "build_model",
    "class_weights",
    "evaluate",
    "example_losses",
    "get_architecture",
    "load_checkpoint",
    "mae_years",
    "make_optimizer",
    "make_scheduler",
    "metrics_from_logits",
    "predict_logits",
    "register_architecture",
    "save_checkpoint",
    "sha256_file",
    "train_model",
    "training_root",
    "unregister_architecture",
]
