"""Training, registering and loading model versions: where the ledger meets the checkpoints.

A model version's training set is its dataset's ``train`` split minus every suppressed subject at the
time it was trained; its ``training_root`` is the ledger's Merkle root over those examples' (id, digest)
leaves (see :func:`deletion_sdk.ledger.lineage.examples_root`). Weights are content-addressed under
``HOME/models/<name>/`` and always loaded through their digest. Paths come from the deployment's
:class:`~deletion_sdk.layout.HomeLayout`.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from sqlmodel import Session

from deletion_sdk.data import AgeBins, FaceTensors
from deletion_sdk.erasure.records import StoredExample
from deletion_sdk.erasure.store import DEFAULT_STORE, StoreContext, create_store
from deletion_sdk.errors import IntegrityError, JobError, NotFoundError
from deletion_sdk.jobs.snapshot import load_examples
from deletion_sdk.layout import HomeLayout
from deletion_sdk.ledger import lineage, registry
from deletion_sdk.ledger.db import Ledger
from deletion_sdk.ledger.lineage import ExampleInput
from deletion_sdk.ledger.records import DatasetRecord, ModelVersionRecord
from deletion_sdk.training import (
    CheckpointMetadata,
    LoadedCheckpoint,
    TrainConfig,
    load_checkpoint,
    save_checkpoint,
    train_model,
)

__all__ = [
    "DatasetSplits",
    "JobSets",
    "load_job_sets",
    "load_model_version",
    "load_splits",
    "train_and_register",
    "training_set_root",
]


@dataclass(frozen=True)
class DatasetSplits:
    """A dataset's training pool (suppressed subjects removed), holdout and test sets."""

    dataset_id: int
    train: FaceTensors
    holdout: FaceTensors
    test: FaceTensors
    train_rows: tuple[ExampleInput, ...]


def training_set_root(rows: tuple[ExampleInput, ...] | list[ExampleInput]) -> str:
    """The ledger's Merkle root (hex) over these examples' (id, digest) leaves, sorted by id."""
    return lineage.leaves_root(sorted((r.example_id, r.content_digest) for r in rows))


def _reader(
    ledger: Ledger, layout: HomeLayout, record: DatasetRecord, master_key: str | None
) -> Callable[[ExampleInput], bytes] | None:
    """Example bytes through the dataset's store; None for the local store's plain files (read directly).

    A dataset kept by another store (the ``encrypted`` vault of ``datasets ingest``) is read through it, and
    its decoded images are never written to the tensor cache: that would be a plaintext copy outliving the
    owner's key.
    """
    if record.store == DEFAULT_STORE:
        return None
    root = None if record.root_dir is None else Path(record.root_dir)
    store = create_store(
        record.store, StoreContext(root_dir=root, home=layout.home, ledger=ledger, master_key=master_key)
    )

    def read(row: ExampleInput) -> bytes:
        return store.open_bytes(
            StoredExample(
                example_id=row.example_id,
                subject_ref=row.subject_ref,
                content_digest=row.content_digest,
                path=row.path,
            )
        )

    return read


def _suppressed(session: Session) -> set[str]:
    return {s.subject_ref for s in lineage.list_suppressions(session)}


def load_splits(
    ledger: Ledger,
    layout: HomeLayout,
    *,
    dataset: int | str,
    image_size: int | None,
    bins: AgeBins | None = None,
    master_key: str | None = None,
) -> DatasetSplits:
    """Load a dataset's train (minus suppressed subjects), holdout and test examples.

    ``master_key`` (hex, from the settings) opens a vault dataset when no key file is kept under HOME.
    """
    with ledger.session(write=False) as session:
        record = lineage.get_dataset(session, dataset)
        suppressed = _suppressed(session)
        rows = {
            s: lineage.dataset_examples(session, dataset=record.dataset_id, split=s)
            for s in ("train", "holdout", "test")
        }
    train_rows = tuple(r for r in rows["train"] if r.subject_ref not in suppressed)
    read = _reader(ledger, layout, record, master_key)
    cache = layout.cache if read is None else None

    def load(part: list[ExampleInput] | tuple[ExampleInput, ...]) -> FaceTensors:
        return load_examples(
            part, root_dir=record.root_dir, image_size=image_size, bins=bins, cache_dir=cache, read=read
        )

    return DatasetSplits(
        dataset_id=record.dataset_id,
        train=load(train_rows),
        holdout=load(rows["holdout"]),
        test=load(rows["test"]),
        train_rows=train_rows,
    )


def train_and_register(
    ledger: Ledger,
    layout: HomeLayout,
    *,
    dataset: int | str,
    name: str,
    config: TrainConfig,
    deploy: bool = True,
    device: str = "auto",
    progress: bool = False,
    on_trained: Callable[[], None] | None = None,
    master_key: str | None = None,
) -> ModelVersionRecord:
    """Train ``config`` on the dataset's training pool, save the checkpoint, register (and deploy) it."""
    bins = AgeBins()
    splits = load_splits(
        ledger, layout, dataset=dataset, image_size=config.image_size, bins=bins, master_key=master_key
    )
    result = train_model(
        splits.train,
        config=config,
        device=device,
        eval_sets={"holdout": splits.holdout, "test": splits.test},
        progress=progress,
        bins=bins,
    )
    if on_trained is not None:
        on_trained()
    root = training_set_root(splits.train_rows)
    saved = save_checkpoint(
        result.model,
        layout.model_dir(name),
        metadata=CheckpointMetadata(
            architecture=config.arch,
            num_classes=config.num_classes,
            image_size=config.image_size,
            train_config=config,
            training_root=root,
            n_training_examples=len(splits.train),
            age_bins=bins,
        ),
    )
    m = result.metrics
    metrics = {
        "train_accuracy": m.train_accuracy,
        "holdout_accuracy": m.accuracy.get("holdout"),
        "test_accuracy": m.accuracy.get("test"),
        "holdout_mae_years": m.mae_years.get("holdout"),
        "test_mae_years": m.mae_years.get("test"),
        "n_train": m.n_train,
        "train_time_s": m.train_time_s,
        "wall_time_s": m.wall_time_s,
        "device": m.device,
    }
    record = registry.register_model_version(
        ledger,
        name=name,
        weights_digest=saved.digest,
        architecture=config.arch,
        path=layout.stored_path(saved.weights_path),  # relative to HOME: HOME can be moved
        dataset_id=splits.dataset_id,
        training_root=root,
        metrics=metrics,
    )
    if deploy:
        with ledger.session() as session:
            record = registry.mark_deployed(session, record.model_version_id)
    return record


@dataclass(frozen=True)
class JobSets:
    """What a batch job unlearns and verifies against: forget, retain and the dataset's other splits."""

    forget: FaceTensors
    splits: DatasetSplits

    @property
    def retain(self) -> FaceTensors:
        """The training pool without the forget set (suppressed subjects were removed at resolve)."""
        return self.splits.train


def load_job_sets(
    ledger: Ledger,
    layout: HomeLayout,
    *,
    original: ModelVersionRecord,
    forget_ids: frozenset[str],
    image_size: int,
    bins: AgeBins,
    master_key: str | None = None,
) -> JobSets:
    """Load the original model's forget set and splits, checking them against its training root.

    The retain set is the training pool without the forget set. A batch job has suppressed the forget
    subjects when it resolved them (the pool already lacks them); a look before any job (the red team)
    has not, so any forget example still in the pool is taken out here.

    Raises:
        JobError: the model names no dataset, or the ledger's training examples (retain + forget) no
            longer match the model's recorded ``training_root``.
    """
    if original.dataset_id is None:
        raise JobError(f"model {original.name} v{original.version} names no training dataset")
    splits = load_splits(
        ledger, layout, dataset=original.dataset_id, image_size=image_size, bins=bins, master_key=master_key
    )
    if any(r.example_id in forget_ids for r in splits.train_rows):
        splits = dataclasses.replace(
            splits,
            train=splits.train.exclude(forget_ids),
            train_rows=tuple(r for r in splits.train_rows if r.example_id not in forget_ids),
        )
    with ledger.session(write=False) as session:
        rows = lineage.dataset_examples(session, dataset=original.dataset_id, split="train")
        record = lineage.get_dataset(session, original.dataset_id)
    forget_rows = [r for r in rows if r.example_id in forget_ids]
    read = _reader(ledger, layout, record, master_key)
    forget = load_examples(
        forget_rows,
        root_dir=record.root_dir,
        image_size=image_size,
        bins=bins,
        cache_dir=layout.cache if read is None else None,
        read=read,
    )
    expected = training_set_root([*splits.train_rows, *forget_rows])
    if original.training_root and expected != original.training_root:
        raise JobError(
            f"the ledger's training examples no longer match model {original.name} v{original.version}'s "
            "recorded training set (training_root differs); refusing to unlearn against the wrong data"
        )
    return JobSets(forget=forget, splits=splits)


def load_model_version(
    record: ModelVersionRecord, *, device: str = "cpu", layout: HomeLayout | None = None
) -> LoadedCheckpoint:
    """Load a registered version's weights, verifying them against the registry's digest.

    A weights path recorded relative to HOME is found under ``layout``'s HOME (required for such a path).

    Raises:
        NotFoundError: the version has no weights file.
        IntegrityError: the file's SHA-256 differs from the registered digest.
    """
    if not record.path:
        raise NotFoundError(f"model {record.name} v{record.version} has no weights file")
    if layout is not None:
        weights = layout.artifact(record.path)
    elif Path(record.path).is_absolute():
        weights = Path(record.path)
    else:
        raise NotFoundError(f"model {record.name} v{record.version}: its weights path is relative to HOME")
    loaded = load_checkpoint(weights, expected_digest=record.weights_digest, device=device)
    if loaded.digest != record.weights_digest:  # pragma: no cover - load_checkpoint already checks
        raise IntegrityError(f"model {record.name} v{record.version}: digest mismatch")
    return loaded
