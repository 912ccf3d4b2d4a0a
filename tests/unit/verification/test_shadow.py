"""The shadow bank: balanced IN masks, storage under HOME with digests, reuse, tamper detection, LiRA."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from deletion_sdk.errors import ConflictError, InputError, IntegrityError
from deletion_sdk.training import TrainConfig
from deletion_sdk.verification.shadow import ShadowBank, ShadowBankIndex, default_shadow_models

from .conftest import make_faces

CONFIG = TrainConfig(
    arch="verification_test_mlp", num_classes=4, image_size=8, epochs=10, batch_size=30, lr=1e-2
)
DIGEST = "ab" * 32


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> tuple[ShadowBank, ShadowBankIndex]:
    pool = make_faces(120, offset=50_000, generator=torch.Generator().manual_seed(5))
    bank = ShadowBank(
        pool=pool,
        model_digest=DIGEST,
        config=CONFIG,
        k=4,
        directory=tmp_path_factory.mktemp("home") / "shadow" / DIGEST,
    )
    return bank, bank.build()


def test_each_example_is_in_for_half_of_the_members(built: tuple[ShadowBank, ShadowBankIndex]) -> None:
    bank, index = built
    assert index.complete and index.k == 4
    np.testing.assert_array_equal(index.in_mask.sum(axis=0), 2)
    assert 40 <= index.in_mask.sum(axis=1).min() <= index.in_mask.sum(axis=1).max() <= 80
    assert [m.n_train for m in index.members] == index.in_mask.sum(axis=1).tolist()
    assert len({m.digest for m in index.members}) == 4
    files = sorted(p.name for p in bank.directory.iterdir())
    assert "index.json" in files and "member-003.safetensors" in files
    # the executor's result store only passes members through: the member files hold them
    assert not (bank.directory / "tasks").exists()
    assert bank.directory == Path(bank.directory.parent.parent, "shadow", DIGEST)


def test_reuse_trains_nothing_and_conflicts_are_refused(built: tuple[ShadowBank, ShadowBankIndex]) -> None:
    bank, index = built
    mtimes = {p: p.stat().st_mtime_ns for p in bank.directory.glob("member-*.safetensors")}
    again = ShadowBank(pool=bank.pool, model_digest=DIGEST, config=CONFIG, k=4, directory=bank.directory)
    assert again.build() == index
    assert {p: p.stat().st_mtime_ns for p in bank.directory.glob("member-*.safetensors")} == mtimes
    other_k = ShadowBank(pool=bank.pool, model_digest=DIGEST, config=CONFIG, k=6, directory=bank.directory)
    with pytest.raises(ConflictError, match="different k"):
        other_k.build()


def test_confidences_and_lira_separate_members_from_non_members(
    built: tuple[ShadowBank, ShadowBankIndex],
) -> None:
    bank, index = built
    refs = bank.confidences(bank.pool)
    assert refs.confidences.shape == (4, 120)
    np.testing.assert_array_equal(refs.in_mask, index.in_mask)
    inn, out = refs.split()
    # members memorise their half: IN confidences are higher than OUT ones for the same examples
    assert np.nanmean(inn) > np.nanmean(out) + 1.0
    outside = make_faces(10, offset=90_000, generator=torch.Generator().manual_seed(6))
    assert not bank.confidences(outside).in_mask.any()


def test_a_modified_member_is_detected(built: tuple[ShadowBank, ShadowBankIndex], tmp_path: Path) -> None:
    bank, _ = built
    copy = ShadowBank(pool=bank.pool, model_digest=DIGEST, config=CONFIG, k=4, directory=tmp_path / "bank")
    copy.directory.mkdir(parents=True)
    for p in bank.directory.iterdir():
        (copy.directory / p.name).write_bytes(p.read_bytes())
    target = copy.directory / "member-001.safetensors"
    data = bytearray(target.read_bytes())
    data[-1] ^= 0xFF
    target.write_bytes(bytes(data))
    with pytest.raises(IntegrityError):
        copy.confidences(bank.pool.take([0, 1]))


def test_parameters_are_checked(built: tuple[ShadowBank, ShadowBankIndex]) -> None:
    bank, _ = built
    with pytest.raises(InputError, match="registered executor"):
        ShadowBank(
            pool=bank.pool, model_digest=DIGEST, config=CONFIG, directory=bank.directory, executor="nope"
        )
    with pytest.raises(InputError, match="'k'"):
        ShadowBank(pool=bank.pool, model_digest=DIGEST, config=CONFIG, k=1, directory=bank.directory)
    assert default_shadow_models("cpu") == 8
