"""Registering a model trained outside the SDK: weights, recipe, recorded lineage, and what needs a recipe."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
import torchvision
from safetensors.torch import save_file

from deletion_sdk.data import AgeBins, FaceTensors
from deletion_sdk.errors import InputError
from deletion_sdk.external import LineageRecorder
from deletion_sdk.jobs.models import load_model_version, training_set_root
from deletion_sdk.ledger import lineage
from deletion_sdk.sdk import DeletionSDK
from deletion_sdk.training import load_checkpoint
from deletion_sdk.training.external import IMAGENET, TrainingRecipe
from deletion_sdk.unlearning import UnlearningContext, run_unlearner

from .conftest import UTKFolder

ARCH = "torchvision:mobilenet_v3_small"
RECIPE = TrainingRecipe(
    optimizer="sgd", lr=0.05, epochs=2, batch_size=4, image_size=16, augmentation=("hflip",)
)


def _weights(tmp_path: Path, family: str = "mobilenet_v3_small") -> tuple[torch.nn.Module, Path]:
    torch.manual_seed(1)
    net = getattr(torchvision.models, family)(weights=None, num_classes=AgeBins().num_classes).eval()
    path = tmp_path / f"{family}.safetensors"
    save_file({k: v.contiguous() for k, v in net.state_dict().items()}, str(path))
    return net, path


def _recorded(utk: UTKFolder, *, drop: int = 0, extra: tuple[str, ...] = ()) -> LineageRecorder:
    rec = LineageRecorder(dataset="faces")
    train = [f for f in utk.files if utk.split[f] == "train"]
    for _epoch in range(2):
        rec.record(train[drop:] + list(extra))
        rec.end_epoch()
    return rec


@pytest.mark.slow
def test_registered_with_recipe_and_lineage(sdk: DeletionSDK, utk: UTKFolder, tmp_path: Path) -> None:
    sdk.import_utkface(name="faces", directory=utk.root, subjects=utk.subjects_csv)
    net, weights = _weights(tmp_path)
    version = sdk.register_external_model(
        name="team",
        architecture=ARCH,
        weights=weights,
        dataset="faces",
        lineage=_recorded(utk).lineage(),
        recipe=RECIPE,
        deploy=True,
    )
    assert (version.architecture, version.status) == (ARCH, "deployed")
    assert version.metrics["recipe"] == "recorded" and version.metrics["lineage"] == "recorded"
    with sdk.ledger.session(write=False) as session:
        train = lineage.dataset_examples(session, dataset="faces", split="train")
    assert version.training_root == training_set_root(train)
    meta = load_checkpoint(sdk.layout.artifact(version.path or "")).metadata
    assert meta.train_config == RECIPE.train_config(arch=ARCH, num_classes=AgeBins().num_classes)
    assert meta.training_root == version.training_root and meta.extra["training_recipe"] == "recorded"
    loaded = load_model_version(version, layout=sdk.layout).model
    x = torch.rand(3, 3, 16, 16)
    mean, std = torch.tensor(IMAGENET.mean).view(1, 3, 1, 1), torch.tensor(IMAGENET.std).view(1, 3, 1, 1)
    assert torch.allclose(loaded(x), net((x - mean) / std), atol=1e-6)  # the team's model, unchanged


def test_lineage_must_be_the_datasets_training_pool(sdk: DeletionSDK, utk: UTKFolder, tmp_path: Path) -> None:
    sdk.import_utkface(name="faces", directory=utk.root, subjects=utk.subjects_csv)
    _, weights = _weights(tmp_path)
    kwargs = dict(name="team", architecture=ARCH, weights=weights, dataset="faces", recipe=RECIPE)
    with pytest.raises(InputError, match="trained on 17 of the 18"):
        sdk.register_external_model(**kwargs, lineage=_recorded(utk, drop=1).lineage())  # type: ignore[arg-type]
    with pytest.raises(InputError, match="not in dataset 'faces''s train split"):
        sdk.register_external_model(**kwargs, lineage=_recorded(utk, extra=("stolen.jpg",)).lineage())  # type: ignore[arg-type]
    holdout = next(f for f in utk.files if utk.split[f] == "holdout")
    with pytest.raises(InputError, match="not in dataset"):  # holdout people were never to be trained on
        sdk.register_external_model(**kwargs, lineage=_recorded(utk, extra=(holdout,)).lineage())  # type: ignore[arg-type]
    first = next(f for f in utk.files if utk.split[f] == "train")
    with sdk.ledger.session() as session:
        lineage.suppress(session, subject_ref=sdk.subject_ref(subject=utk.owner[first]), reason="erased")
    with pytest.raises(InputError, match="erased subjects"):
        sdk.register_external_model(**kwargs, lineage=_recorded(utk).lineage())  # type: ignore[arg-type]
    assert sdk.list_models() == ()  # nothing recorded by any refusal


def test_weights_that_do_not_fit_are_refused(sdk: DeletionSDK, tmp_path: Path) -> None:
    _, resnet = _weights(tmp_path, "resnet18")
    with pytest.raises(InputError, match="do not fit architecture"):
        sdk.register_external_model(name="m", architecture=ARCH, weights=resnet, recipe=RECIPE)
    with pytest.raises(InputError, match="Unknown architecture"):
        sdk.register_external_model(name="m", architecture="no_such_net", weights=resnet, recipe=RECIPE)
    with pytest.raises(InputError, match="image_size"):
        sdk.register_external_model(name="m", architecture=ARCH, weights=resnet)


def _faces(n: int, seed: int) -> FaceTensors:
    g = torch.Generator().manual_seed(seed)
    return FaceTensors(
        images=torch.randint(0, 256, (n, 3, 16, 16), generator=g, dtype=torch.uint8),
        labels=torch.randint(0, AgeBins().num_classes, (n,), generator=g),
        ages=torch.rand(n, generator=g) * 80,
        example_ids=tuple(f"e{seed}-{i}" for i in range(n)),
    )


@pytest.mark.slow
def test_without_a_recipe_only_methods_that_need_none_run(sdk: DeletionSDK, tmp_path: Path) -> None:
    _, weights = _weights(tmp_path)
    version = sdk.register_external_model(name="bare", architecture=ARCH, weights=weights, image_size=16)
    assert version.metrics["recipe"] == "none" and version.training_root is None
    loaded = load_model_version(version, layout=sdk.layout)
    assert loaded.metadata.train_config is None
    forget, retain = _faces(4, 1), _faces(12, 2)
    context = UnlearningContext(device="cpu", seed=0, train_config=loaded.metadata.train_config)
    for method in ("neggrad_plus", "retrain", "finetune"):
        with pytest.raises(InputError, match="train_config"):
            run_unlearner(method, loaded.model, forget=forget, retain=retain, context=context)
    result = run_unlearner("ssd", loaded.model, forget=forget, retain=retain, context=context)
    assert result.params["training_recipe"] == "none"  # the certificate's unlearner parameters say so
    with_recipe = UnlearningContext(
        device="cpu", seed=0, train_config=RECIPE.train_config(arch=ARCH, num_classes=AgeBins().num_classes)
    )
    assert (
        "training_recipe"
        not in run_unlearner("ssd", loaded.model, forget=forget, retain=retain, context=with_recipe).params
    )
