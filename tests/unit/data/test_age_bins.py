from __future__ import annotations

import pytest
import torch
from pydantic import ValidationError

from deletion_sdk.data import AgeBins


def test_default_has_ten_groups_with_documented_edges() -> None:
    bins = AgeBins()
    assert bins.num_classes == 10
    assert [bins.label_for(a) for a in (0, 4.9, 5, 19, 20, 29.5, 30, 49, 64, 65, 100)] == [
        0, 0, 1, 3, 4, 5, 6, 7, 8, 9, 9
    ]  # fmt: skip
    assert bins.midpoints[0] == 2.5 and bins.midpoints[-1] == (65 + 90) / 2


def test_vectorised_labels_agree_with_scalar() -> None:
    bins = AgeBins()
    ages = torch.arange(0, 100, 0.5)
    assert bins.labels_for(ages).tolist() == [bins.label_for(float(a)) for a in ages]


def test_mae_from_midpoints() -> None:
    bins = AgeBins(edges=(10.0, 20.0), max_age=40.0)
    assert bins.midpoints == (5.0, 15.0, 30.0)
    mae = bins.mae_years(torch.tensor([0, 1, 2]), torch.tensor([5.0, 20.0, 40.0]))
    assert mae == pytest.approx((0 + 5 + 10) / 3)
    with pytest.raises(ValueError, match="same shape"):
        bins.mae_years(torch.tensor([0]), torch.tensor([1.0, 2.0]))


@pytest.mark.parametrize(
    "kw", [{"edges": (5.0, 5.0)}, {"edges": (0.0, 4.0)}, {"edges": (5.0,), "max_age": 4.0}]
)
def test_invalid_bins(kw: dict[str, object]) -> None:
    with pytest.raises(ValidationError):
        AgeBins.model_validate(kw)


def test_round_trip_json() -> None:
    bins = AgeBins(edges=(3.0, 12.0), max_age=60.0)
    assert AgeBins.model_validate_json(bins.model_dump_json()) == bins
