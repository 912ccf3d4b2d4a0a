from __future__ import annotations

import pytest
import torch

from deletion_sdk.data import FaceTensors, SynthFacesConfig, generate_faces, subject_disjoint_split
from deletion_sdk.errors import InputError


@pytest.fixture(scope="module")
def data() -> FaceTensors:
    return generate_faces(SynthFacesConfig(n_subjects=80, image_size=16, seed=5)).data


def _subjects(part: FaceTensors) -> set[str]:
    assert part.subject_ids is not None
    return set(part.subject_ids)


def test_no_subject_in_two_splits_and_every_row_somewhere(data: FaceTensors) -> None:
    parts = subject_disjoint_split(data, seed=1)
    assert list(parts) == ["train", "holdout", "test"]
    names = list(parts)
    for i, a in enumerate(names):
        for b in names[i + 1 :]:
            assert not _subjects(parts[a]) & _subjects(parts[b])
    all_ids = [eid for part in parts.values() for eid in part.example_ids]
    assert sorted(all_ids) == sorted(data.example_ids)
    # A subject's rows all travel together.
    for part in parts.values():
        for sid in _subjects(part):
            assert sum(s == sid for s in part.subject_ids or ()) == sum(
                s == sid for s in data.subject_ids or ()
            )


def test_fractions_are_approximately_met(data: FaceTensors) -> None:
    parts = subject_disjoint_split(data, fractions={"train": 0.5, "holdout": 0.5}, seed=0)
    share = len(parts["train"]) / len(data)
    assert 0.4 < share < 0.6


def test_seeded_and_order_preserving(data: FaceTensors) -> None:
    a = subject_disjoint_split(data, seed=7)
    b = subject_disjoint_split(data, seed=7)
    c = subject_disjoint_split(data, seed=8)
    assert all(a[k].example_ids == b[k].example_ids for k in a)
    assert any(a[k].example_ids != c[k].example_ids for k in a)
    position = {eid: i for i, eid in enumerate(data.example_ids)}
    rows = [position[eid] for eid in a["train"].example_ids]
    assert rows == sorted(rows)
    assert torch.equal(a["train"].images[0], data.images[rows[0]])


@pytest.mark.parametrize(
    "fractions", [{}, {"train": 0.7, "test": 0.2}, {"train": 1.2, "test": -0.2}, {"train": "x"}]
)
def test_bad_fractions_raise(data: FaceTensors, fractions: dict[str, object]) -> None:
    with pytest.raises(InputError, match="fractions"):
        subject_disjoint_split(data, fractions=fractions)  # type: ignore[arg-type]


def test_needs_subject_ids(data: FaceTensors) -> None:
    anonymous = FaceTensors(
        images=data.images, labels=data.labels, ages=data.ages, example_ids=data.example_ids
    )
    with pytest.raises(InputError, match="subject_ids"):
        subject_disjoint_split(anonymous)
