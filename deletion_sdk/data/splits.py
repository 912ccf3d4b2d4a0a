"""Subject-disjoint splits: nobody appears in two splits.

The holdout split is what verification compares forget examples with, so it must hold people the
model never saw — not merely other photos of its training people.
"""

from __future__ import annotations

import math
from collections.abc import Mapping

import torch

from deletion_sdk.data.tensors import FaceTensors
from deletion_sdk.errors import InputError

__all__ = ["DEFAULT_FRACTIONS", "subject_disjoint_split"]

DEFAULT_FRACTIONS: Mapping[str, float] = {"train": 0.6, "holdout": 0.2, "test": 0.2}


def _check_fractions(fractions: Mapping[str, float]) -> dict[str, float]:
    if not fractions:
        raise InputError("The 'fractions' parameter must name at least one split. Got an empty mapping.")
    bad = {k: v for k, v in fractions.items() if not isinstance(v, int | float) or not v >= 0}
    if bad:
        raise InputError(f"The 'fractions' parameter must map split names to numbers >= 0. Got {bad!r}.")
    total = float(sum(fractions.values()))
    if not math.isclose(total, 1.0, abs_tol=1e-6):
        raise InputError(f"The 'fractions' parameter must sum to 1. Got {dict(fractions)!r} (sum {total}).")
    return {str(k): float(v) for k, v in fractions.items()}


def subject_disjoint_split(
    data: FaceTensors, *, fractions: Mapping[str, float] | None = None, seed: int = 0
) -> dict[str, FaceTensors]:
    """Split rows by subject so that every subject's rows land in exactly one split.

    Subjects are shuffled (seeded) and assigned in turn to the split whose share of the rows their
    images' midpoint falls into, so each split gets close to its fraction of the *images* (not of the
    subjects). Rows keep their original order within a split.

    Args:
        data: rows with ``subject_ids`` set.
        fractions: split name -> fraction of rows, summing to 1 (default train 0.6, holdout 0.2,
            test 0.2).
        seed: seeds the subject shuffle.

    Returns:
        Split name -> the rows of that split (every name of ``fractions``, possibly empty).

    Raises:
        InputError: ``data`` has no subject ids, or ``fractions`` is not a distribution.
    """
    fr = _check_fractions(DEFAULT_FRACTIONS if fractions is None else fractions)
    if data.subject_ids is None:
        raise InputError("The 'data' parameter must carry subject_ids to be split by subject. Got None.")
    subjects = sorted(set(data.subject_ids))
    position = {sid: i for i, sid in enumerate(subjects)}
    row_subject = torch.tensor([position[sid] for sid in data.subject_ids], dtype=torch.long)
    counts = torch.bincount(row_subject, minlength=len(subjects)).double()
    order = torch.randperm(len(subjects), generator=torch.Generator().manual_seed(seed))
    cumulative = torch.cumsum(counts[order], 0)
    midpoints = (cumulative - counts[order] / 2) / max(len(data), 1)
    names = list(fr)
    bounds = torch.tensor(list(fr.values()), dtype=torch.float64).cumsum(0)
    bounds[-1] = math.inf
    split_of_ordered = torch.bucketize(midpoints, bounds, right=True).clamp(max=len(names) - 1)
    split_of_subject = torch.empty(len(subjects), dtype=torch.long)
    split_of_subject[order] = split_of_ordered
    row_split = split_of_subject[row_subject]
    return {name: data.take(torch.nonzero(row_split == k).flatten()) for k, name in enumerate(names)}
