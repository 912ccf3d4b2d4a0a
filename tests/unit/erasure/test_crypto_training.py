"""Training reads an ingested dataset through the vault: nothing plaintext needed or cached, erased absent."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
import torch

from deletion_sdk.data import load_image
from deletion_sdk.errors import ShreddedDataError
from deletion_sdk.jobs.models import load_splits, train_and_register
from deletion_sdk.ledger.lineage.tombstones import tombstone_examples
from deletion_sdk.training import TrainConfig
from tests.unit.erasure.test_crypto_store import NOW, World, _world, stored


@pytest.fixture
def world(tmp_path: Path) -> Iterator[World]:
    yield from _world(tmp_path, None)


@pytest.mark.slow
def test_a_training_run_reads_the_vault_caches_no_plaintext_and_never_sees_a_shredded_person(
    world: World,
) -> None:
    w = world
    pixels = {
        r.example_id: torch.from_numpy(
            np.ascontiguousarray(load_image(w.data_dir / str(r.path)).transpose(2, 0, 1))
        )
        for r in w.rows
    }
    w.ingest(delete_source=True)
    assert not any((w.data_dir / str(r.path)).exists() for r in w.rows)

    splits = load_splits(w.sdk.ledger, w.sdk.layout, dataset="faces", image_size=None)
    loaded = {eid: splits.train.images[i] for i, eid in enumerate(splits.train.example_ids)}
    assert set(loaded) == {r.example_id for r in w.rows if r.split == "train"} and loaded
    assert all(torch.equal(img, pixels[eid]) for eid, img in loaded.items())
    cache = w.sdk.layout.cache
    assert not cache.exists() or not any(cache.iterdir())  # no decoded plaintext copy of a vault dataset

    record = train_and_register(
        w.sdk.ledger,
        w.sdk.layout,
        dataset="faces",
        name="age",
        config=TrainConfig(image_size=16, epochs=1, batch_size=8),
        device="cpu",
    )
    assert record.dataset_id is not None

    # The person is shredded as the batch job's erase step does it (keys destroyed, examples tombstoned):
    # the next training run leaves them out instead of failing on their unreadable files.
    victim = [r for r in w.of(w.victim) if r.split == "train"] or w.of(w.victim)
    w.store().erase(stored(w.of(w.victim)), now=NOW)
    with pytest.raises(ShreddedDataError):
        w.store().open_bytes(stored(victim)[0])
    with w.sdk.ledger.session() as session:
        tombstone_examples(
            session, ((record.dataset_id, r.example_id, r.content_digest) for r in w.of(w.victim))
        )
    after = load_splits(w.sdk.ledger, w.sdk.layout, dataset="faces", image_size=None)
    everyone = {*after.train.example_ids, *after.holdout.example_ids, *after.test.example_ids}
    assert everyone and not everyone & {r.example_id for r in w.of(w.victim)}
