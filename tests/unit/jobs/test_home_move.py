"""Found 6 of the input review: HOME can be moved; artifact paths are recorded relative to it."""

from __future__ import annotations

from pathlib import Path

import torch

from deletion_sdk.data import AgeBins
from deletion_sdk.jobs.models import load_model_version
from deletion_sdk.layout import HomeLayout
from deletion_sdk.ledger import registry
from deletion_sdk.sdk import DeletionSDK
from deletion_sdk.settings import Settings
from deletion_sdk.training import CheckpointMetadata, TrainConfig, build_model, save_checkpoint, training_root


def test_stored_paths_are_relative_inside_home_and_absolute_outside(tmp_path: Path) -> None:
    layout = HomeLayout(tmp_path / "home")
    inside = layout.models / "age" / "w.safetensors"
    assert layout.stored_path(inside) == "models/age/w.safetensors"
    assert layout.artifact("models/age/w.safetensors") == inside
    outside = tmp_path / "elsewhere" / "w.safetensors"
    assert layout.stored_path(outside) == str(outside)
    assert layout.artifact(str(outside)) == outside  # absolute paths of earlier versions still work


def test_a_registered_model_loads_after_home_is_moved(tmp_path: Path) -> None:
    home = tmp_path / "home"
    torch.manual_seed(0)
    model = build_model("tiny_cnn", num_classes=10, image_size=16).eval()
    meta = CheckpointMetadata(
        architecture="tiny_cnn",
        num_classes=10,
        image_size=16,
        train_config=TrainConfig(image_size=16, epochs=1),
        training_root=training_root(["ex-0"]),
        n_training_examples=1,
        age_bins=AgeBins(),
    )
    saved = save_checkpoint(model, HomeLayout(home).model_dir("age"), metadata=meta)
    with DeletionSDK.open(settings=Settings(home=home)) as sdk:
        record = sdk.register_model(name="age", checkpoint=saved.weights_path, deploy=True)
    assert record.path is not None and not Path(record.path).is_absolute()

    moved = tmp_path / "moved" / "home"
    moved.parent.mkdir()
    home.rename(moved)
    with DeletionSDK.open(settings=Settings(home=moved)) as sdk:
        with sdk.ledger.session(write=False) as session:
            deployed = registry.deployed(session, "age")
        loaded = load_model_version(deployed, layout=sdk.layout)
    assert loaded.digest == record.weights_digest
