"""torchvision architectures by name, weights files read safely, and the training recipe."""

from __future__ import annotations

import pickle
from pathlib import Path

import pytest
import torch
import torchvision
from safetensors.torch import save_file

from deletion_sdk.errors import InputError, NotFoundError
from deletion_sdk.training import TrainConfig, build_model, make_optimizer, make_scheduler
from deletion_sdk.training.external import (
    IMAGENET,
    Normalisation,
    TrainingRecipe,
    load_recipe,
    load_weights_file,
    torchvision_architecture,
)


@pytest.mark.parametrize("family", ["resnet18", "mobilenet_v3_small", "efficientnet_b0"])
def test_names_build_torchvision_networks_that_normalise_inside(family: str) -> None:
    name = torchvision_architecture(family)
    assert name == f"torchvision:{family}"
    torch.manual_seed(0)
    model = build_model(name, num_classes=5, image_size=32).eval()
    x = torch.rand(2, 3, 32, 32)
    mean, std = torch.tensor(IMAGENET.mean).view(1, 3, 1, 1), torch.tensor(IMAGENET.std).view(1, 3, 1, 1)
    assert torch.equal(model(x), model.net((x - mean) / std))
    raw = getattr(torchvision.models, family)(weights=None, num_classes=5)
    assert {k.removeprefix("net.") for k in model.state_dict()} == set(raw.state_dict())


def test_custom_normalisation_is_part_of_the_name_and_rebuilds_identically() -> None:
    norm = Normalisation(mean=(0.5, 0.5, 0.5), std=(0.25, 0.25, 0.25))
    name = torchvision_architecture("resnet18", normalisation=norm)
    assert name == "torchvision:resnet18?mean=0.5,0.5,0.5&std=0.25,0.25,0.25"
    first = build_model(name, num_classes=3, image_size=16).eval()
    second = build_model(name, num_classes=3, image_size=16).eval()  # e.g. in another process: same name
    second.load_state_dict(first.state_dict())
    x = torch.rand(1, 3, 16, 16)
    assert torch.equal(first(x), second(x))
    assert torch.equal(first(x), first.net((x - 0.5) / 0.25))
    with pytest.raises(InputError, match="canonical"):
        build_model("torchvision:resnet18?mean=0.50,0.5,0.5&std=0.25,0.25,0.25", num_classes=3, image_size=16)
    with pytest.raises(InputError, match="must be one of"):
        build_model("torchvision:vgg16", num_classes=3, image_size=16)
    with pytest.raises(ValueError, match="> 0"):
        Normalisation(mean=(0, 0, 0), std=(1, 0, 1))


def test_weights_files_load_without_running_code(tmp_path: Path) -> None:
    state = {"w": torch.ones(2, 2), "b": torch.zeros(2)}
    save_file(state, str(tmp_path / "w.safetensors"))
    torch.save(state, tmp_path / "w.pt")
    torch.save({"state_dict": state, "epoch": 3}, tmp_path / "lightning.ckpt")
    for f in ("w.safetensors", "w.pt", "lightning.ckpt"):
        loaded = load_weights_file(tmp_path / f)
        assert set(loaded) == {"w", "b"} and torch.equal(loaded["w"], state["w"])

    class Payload:  # a pickle that would run code on load
        def __reduce__(self) -> tuple[object, tuple[str]]:
            return (print, ("owned",))

    with open(tmp_path / "evil.pt", "wb") as f:
        pickle.dump({"w": Payload()}, f)
    with pytest.raises(InputError, match="weights-only"):
        load_weights_file(tmp_path / "evil.pt")
    torch.save([1, 2], tmp_path / "list.pt")
    with pytest.raises(InputError, match="state dict"):
        load_weights_file(tmp_path / "list.pt")
    with pytest.raises(NotFoundError):
        load_weights_file(tmp_path / "missing.safetensors")


def test_recipe_maps_to_the_sdk_loop_and_gives_a_team_loop_the_same_optimiser() -> None:
    recipe = TrainingRecipe(
        optimizer="sgd",
        lr=0.1,
        momentum=0.8,
        weight_decay=5e-4,
        warmup_epochs=1,
        final_lr_fraction=0.1,
        epochs=3,
        batch_size=8,
        augmentation=("hflip",),
        image_size=24,
    )
    config = recipe.train_config(arch="torchvision:resnet18", num_classes=4)
    assert config == TrainConfig(
        arch="torchvision:resnet18",
        num_classes=4,
        image_size=24,
        epochs=3,
        batch_size=8,
        lr=0.1,
        final_lr_fraction=0.1,
        warmup_epochs=1,
        optimizer="sgd",
        momentum=0.8,
        weight_decay=5e-4,
        augment_flip=True,
    )
    model = torch.nn.Sequential(torch.nn.Linear(3, 2))
    ours = recipe.optimizer_for(model)
    sdk = make_optimizer(model, config)
    assert type(ours) is type(sdk) and ours.defaults == sdk.defaults
    lrs = []
    sched = recipe.scheduler_for(ours, steps_per_epoch=5)
    sdk_sched = make_scheduler(sdk, config, total_steps=15)
    for _ in range(15):
        lrs.append((ours.param_groups[0]["lr"], sdk.param_groups[0]["lr"]))
        ours.step(), sched.step(), sdk.step(), sdk_sched.step()
    assert all(a == b for a, b in lrs) and lrs[0][0] < lrs[5][0]  # warm-up, then the same decay
    constant = TrainingRecipe(
        optimizer="adamw", lr=1e-3, schedule="constant", epochs=2, batch_size=4, image_size=16
    )
    c = constant.train_config(arch="x", num_classes=2)
    assert (c.optimizer, c.final_lr_fraction, c.warmup_epochs) == ("adam", 1.0, 0.0)


def test_recipe_refuses_what_the_sdk_loop_cannot_reproduce(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="hflip"):
        TrainingRecipe(
            optimizer="sgd", lr=0.1, epochs=1, batch_size=2, image_size=16, augmentation=("randcrop",)
        )  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="optimizer"):
        TrainingRecipe(optimizer="lamb", lr=0.1, epochs=1, batch_size=2, image_size=16)  # type: ignore[arg-type]
    bad = tmp_path / "recipe.json"
    bad.write_text('{"optimizer": "sgd", "lr": -1, "epochs": 1, "batch_size": 2, "image_size": 16}')
    with pytest.raises(InputError, match="lr"):
        load_recipe(bad)
    good = TrainingRecipe(optimizer="sgd", lr=0.1, epochs=1, batch_size=2, image_size=16)
    bad.write_text(good.model_dump_json())
    assert load_recipe(bad) == good
