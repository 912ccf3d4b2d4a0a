"""Registering a model trained outside the SDK: its weights, its recipe and its training data.

The team's weights (safetensors, or a state dict read with ``weights_only=True``) are loaded strictly into
the named architecture and written as an SDK checkpoint (safetensors, content-addressed). Beside them go:

* the :class:`~deletion_sdk.training.external.TrainingRecipe`, as the checkpoint's ``train_config`` — exact
  retraining and the unlearners' learning rates and batch sizes then follow the original training. A model
  registered without one can only be unlearned by methods that do not need one (``needs_recipe = False``;
  the others refuse), and the certificate's unlearner parameters say ``training_recipe: none``;
* the :class:`~deletion_sdk.external.recorder.TrainingLineage`, checked against the dataset in the ledger:
  every recorded id must be an example of its ``train`` split, of no erased subject, and together they must
  be that split's whole training pool (the batch job retrains and verifies on exactly that pool). The model
  version records the ledger's training-set root over those examples, so forget sets resolve for it and the
  batch job refuses to unlearn against different data.
"""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any

from torch import nn

from deletion_sdk.data import AgeBins
from deletion_sdk.errors import InputError
from deletion_sdk.external.recorder import TrainingLineage
from deletion_sdk.jobs.models import load_splits, training_set_root
from deletion_sdk.layout import HomeLayout
from deletion_sdk.ledger import lineage, registry
from deletion_sdk.ledger.db import Ledger
from deletion_sdk.ledger.lineage import ExampleInput
from deletion_sdk.ledger.records import ModelVersionRecord
from deletion_sdk.training import CheckpointMetadata, build_model, evaluate, save_checkpoint
from deletion_sdk.training.architectures import get_architecture
from deletion_sdk.training.external import (
    TORCHVISION_PREFIX,
    Normalisation,
    TorchvisionArchitecture,
    TrainingRecipe,
    load_weights_file,
    torchvision_architecture,
)

__all__ = ["register_external_model", "resolve_external_architecture"]


def resolve_external_architecture(
    architecture: str, *, recipe: TrainingRecipe | None, normalisation: Normalisation | None
) -> str:
    """The registered architecture name: ``torchvision:<family>`` made canonical with its normalisation.

    Raises:
        InputError: unknown architecture, or a normalisation that contradicts the recipe's.
    """
    if not isinstance(architecture, str) or not architecture.strip():
        raise InputError(f"The 'architecture' parameter must be a name. Got {architecture!r} instead.")
    if recipe is not None and normalisation is not None and recipe.normalisation != normalisation:
        raise InputError(
            "The 'normalisation' parameter contradicts the recipe's normalisation; "
            "give it once, in the recipe."
        )
    norm = normalisation if normalisation is not None else (recipe.normalisation if recipe else None)
    if architecture.startswith(TORCHVISION_PREFIX) and "?" not in architecture:
        return torchvision_architecture(architecture[len(TORCHVISION_PREFIX) :], normalisation=norm)
    cls = get_architecture(architecture)  # RegistryError (an InputError) lists the registered ones
    if norm is not None and not issubclass(cls, TorchvisionArchitecture):
        raise InputError(
            f"Architecture {architecture!r} normalises its own input; the recipe's 'normalisation' must be "
            "None for it."
        )
    return architecture


def _load_into(model: nn.Module, state: dict[str, Any], arch: str) -> None:
    target = model.net if isinstance(model, TorchvisionArchitecture) else model
    if isinstance(model, TorchvisionArchitecture) and all(k.startswith("net.") for k in state):
        target = model
    expected = set(target.state_dict())
    missing, unexpected = sorted(expected - set(state)), sorted(set(state) - expected)
    if missing or unexpected:
        raise InputError(
            f"The weights do not fit architecture {arch!r}: {len(missing)} missing key(s) "
            f"{missing[:3]}, {len(unexpected)} unexpected key(s) {unexpected[:3]}."
        )
    try:
        target.load_state_dict(state, strict=True)
    except RuntimeError as e:
        first = next((ln.strip() for ln in str(e).splitlines() if "size mismatch" in ln), str(e))
        raise InputError(f"The weights do not fit architecture {arch!r}: {first}") from None


def _check_lineage(
    ledger: Ledger,
    dataset: str | int,
    record_name: str,
    recorded: TrainingLineage,
    pool: tuple[ExampleInput, ...],
) -> None:
    """The recorded ids must be exactly the dataset's training pool (train split minus erased subjects)."""
    if recorded.dataset is not None and recorded.dataset not in (record_name, str(dataset)):
        raise InputError(f"The lineage was recorded on dataset {recorded.dataset!r}, not on {record_name!r}.")
    seen = set(recorded.example_ids)
    pool_ids = {r.example_id for r in pool}
    with ledger.session(write=False) as session:
        train_ids = {r.example_id for r in lineage.dataset_examples(session, dataset=dataset, split="train")}
    unknown = sorted(seen - train_ids)
    if unknown:
        raise InputError(
            f"The model trained on {len(unknown)} example(s) that are not in dataset {record_name!r}'s train "
            f"split (first: {unknown[0]!r}); register the data it trained on first."
        )
    erased = sorted(seen - pool_ids)
    if erased:
        raise InputError(
            f"The model trained on {len(erased)} example(s) of erased subjects (first: {erased[0]!r}); it "
            "cannot be registered against this dataset: retrain it without them."
        )
    unseen = sorted(pool_ids - seen)
    if unseen:
        raise InputError(
            f"The model trained on {len(seen)} of the {len(pool_ids)} examples of dataset {record_name!r}'s "
            f"training pool (first not seen: {unseen[0]!r}); the SDK retrains and verifies on the whole "
            "pool, so register a dataset holding exactly the examples it trained on."
        )


def register_external_model(
    ledger: Ledger,
    layout: HomeLayout,
    *,
    name: str,
    architecture: str,
    weights: Path | str,
    dataset: str | int | None,
    lineage_record: TrainingLineage | None = None,
    recipe: TrainingRecipe | None = None,
    image_size: int | None = None,
    normalisation: Normalisation | None = None,
    deploy: bool = False,
    master_key: str | None = None,
) -> ModelVersionRecord:
    """Register an externally trained model (see the module docstring).

    Args:
        ledger: the ledger.
        layout: the deployment's home layout (the checkpoint goes under ``models/<name>/``).
        name: model name.
        architecture: ``torchvision:<family>`` or a registered (e.g. plugin) architecture name.
        weights: safetensors or ``torch.save`` state-dict file (torchvision keys, or with a ``net.`` prefix).
        dataset: the registered dataset it was trained on (None: lineage unknown, forget sets cannot resolve).
        lineage_record: the ids its training loop recorded (needs ``dataset``).
        recipe: how it was trained; None registers it as a model without a recipe.
        image_size: input side; required without a recipe, must agree with the recipe's otherwise.
        normalisation: the input normalisation of a torchvision model without a recipe (default ImageNet).
        deploy: deploy the new version.
        master_key: the master key as hex when the settings give it (opens a vault dataset).

    Returns:
        The registered model version (metrics name ``source``, ``recipe`` and ``lineage``).

    Raises:
        InputError: unknown architecture, weights that cannot be read safely or do not fit it, lineage that
            does not match the dataset, or inconsistent sizes.
        NotFoundError: unknown dataset or missing file.
    """
    if lineage_record is not None and dataset is None:
        raise InputError("The 'lineage_record' parameter needs 'dataset' (the dataset its ids belong to).")
    if recipe is not None and image_size is not None and image_size != recipe.image_size:
        raise InputError(
            f"The 'image_size' parameter must match the recipe's image_size {recipe.image_size}. "
            f"Got {image_size}."
        )
    size = recipe.image_size if recipe is not None else image_size
    if size is None:
        raise InputError("The 'image_size' parameter is required for a model registered without a recipe.")
    arch = resolve_external_architecture(architecture, recipe=recipe, normalisation=normalisation)
    bins = AgeBins()
    state = load_weights_file(weights)
    model = build_model(arch, num_classes=bins.num_classes, image_size=size)
    _load_into(model, state, arch)
    model.eval()
    config = recipe.train_config(arch=arch, num_classes=bins.num_classes) if recipe is not None else None
    dataset_id, root, n_train = None, None, None
    metrics: dict[str, Any] = {
        "source": "external",
        "recipe": "recorded" if recipe is not None else "none",
        "lineage": "recorded" if lineage_record is not None else "none",
        "imported_weights_sha256": hashlib.sha256(Path(weights).read_bytes()).hexdigest(),
    }
    if dataset is not None:
        with ledger.session(write=False) as session:
            record = lineage.get_dataset(session, dataset)
        dataset_id = record.dataset_id
        splits = load_splits(
            ledger, layout, dataset=dataset_id, image_size=size, bins=bins, master_key=master_key
        )
        if lineage_record is not None:
            _check_lineage(ledger, dataset_id, record.name, lineage_record, splits.train_rows)
            root, n_train = training_set_root(splits.train_rows), len(splits.train_rows)
            metrics.update(n_train=n_train, train_time_s=lineage_record.train_time_s)
        for split, data in (("holdout", splits.holdout), ("test", splits.test)):
            if len(data):
                result = evaluate(model, data, bins=bins, device="cpu")
                metrics[f"{split}_accuracy"] = result.accuracy
                metrics[f"{split}_mae_years"] = result.mae_years
    saved = save_checkpoint(
        model,
        layout.model_dir(name),
        metadata=CheckpointMetadata(
            architecture=arch,
            num_classes=bins.num_classes,
            image_size=size,
            train_config=config,
            training_root=root,
            n_training_examples=n_train,
            age_bins=bins,
            extra={
                "source": "external",
                "training_recipe": "recorded" if recipe is not None else "none",
                "imported_weights_sha256": metrics["imported_weights_sha256"],
            },
        ),
    )
    version = registry.register_model_version(
        ledger,
        name=name,
        weights_digest=saved.digest,
        architecture=arch,
        path=layout.stored_path(saved.weights_path),
        dataset_id=dataset_id,
        training_root=root,
        metrics=metrics,
    )
    if deploy:
        with ledger.session() as session:
            version = registry.mark_deployed(session, version.model_version_id)
    return version
