"""Age groups: the classes of the age predictor, and MAE in years from group midpoints.

The default is 10 groups, as in the NeurIPS 2023 Machine Unlearning Challenge (whose face data was
heavily skewed towards young people). Narrow groups where the data is dense, wide ones where it is
sparse:

=====  ===========  ========
class  ages (years)  midpoint
=====  ===========  ========
0      0 – 4        2.5
1      5 – 9        7.5
2      10 – 14      12.5
3      15 – 19      17.5
4      20 – 24      22.5
5      25 – 29      27.5
6      30 – 39      35
7      40 – 49      45
8      50 – 64      57.5
9      65 +         77.5 (upper end taken as ``max_age`` = 90)
=====  ===========  ========

A group ``k`` holds ages ``edges[k-1] <= age < edges[k]`` (with ``edges[-1] = 0`` and
``edges[K-1] = ∞``).
"""

from __future__ import annotations

from itertools import pairwise

import torch
from pydantic import BaseModel, ConfigDict, Field, model_validator

__all__ = ["DEFAULT_AGE_EDGES", "AgeBins"]

DEFAULT_AGE_EDGES: tuple[float, ...] = (5.0, 10.0, 15.0, 20.0, 25.0, 30.0, 40.0, 50.0, 65.0)


class AgeBins(BaseModel):
    """Age-group boundaries.

    Attributes:
        edges: the inner boundaries, strictly increasing and > 0; ``len(edges) + 1`` classes.
        max_age: the upper end of the last (open) group, used only for its midpoint.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    edges: tuple[float, ...] = Field(default=DEFAULT_AGE_EDGES, min_length=1)
    max_age: float = 90.0

    @model_validator(mode="after")
    def _check(self) -> AgeBins:
        e = self.edges
        if e[0] <= 0 or any(b <= a for a, b in pairwise(e)):
            raise ValueError(f"The 'edges' parameter must be strictly increasing and > 0. Got {e!r} instead.")
        if self.max_age <= e[-1]:
            raise ValueError(
                f"The 'max_age' parameter must be greater than the last edge {e[-1]}. "
                f"Got {self.max_age} instead."
            )
        return self

    @property
    def num_classes(self) -> int:
        """Number of age groups (``len(edges) + 1``)."""
        return len(self.edges) + 1

    @property
    def midpoints(self) -> tuple[float, ...]:
        """Midpoint in years of every group, ``num_classes`` values."""
        bounds = (0.0, *self.edges, self.max_age)
        return tuple((lo + hi) / 2 for lo, hi in pairwise(bounds))

    def label_for(self, age: float) -> int:
        """The group index of one age in years."""
        return int(sum(age >= e for e in self.edges))

    def labels_for(self, ages: torch.Tensor) -> torch.Tensor:
        """Group indices of ages ``[n]`` (years) as int64 ``[n]``."""
        edges = torch.tensor(self.edges, dtype=torch.float64, device=ages.device)
        return torch.bucketize(ages.to(torch.float64), edges, right=True)

    def mae_years(self, pred_classes: torch.Tensor, true_ages: torch.Tensor) -> float:
        """Mean absolute error in years between predicted groups' midpoints and true ages.

        Args:
            pred_classes: predicted group indices ``[n]``.
            true_ages: ages in years ``[n]``.

        Returns:
            The MAE in years (NaN when ``n == 0``).
        """
        if pred_classes.shape != true_ages.shape:
            raise ValueError(
                f"The 'pred_classes' and 'true_ages' parameters must have the same shape. "
                f"Got {tuple(pred_classes.shape)} and {tuple(true_ages.shape)} instead."
            )
        if pred_classes.numel() == 0:
            return float("nan")
        mids = torch.tensor(self.midpoints, dtype=torch.float64, device=pred_classes.device)
        err = (mids[pred_classes.long()] - true_ages.to(mids.device, torch.float64)).abs()
        return float(err.mean())
