"""Face datasets: synthetic faces, CSV manifests, UTKFace-style folders, age groups, splits."""

from __future__ import annotations

from deletion_sdk.data.age_bins import DEFAULT_AGE_EDGES, AgeBins
from deletion_sdk.data.tensors import FaceTensors, iterate_batches

__all__ = ["DEFAULT_AGE_EDGES", "AgeBins", "FaceTensors", "iterate_batches"]
