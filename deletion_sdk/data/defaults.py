"""The default age-predictor data: one synthetic setting everybody (tests, examples, benchmarks)
shares, so that figures are comparable.

``default``: 3,700 subjects, 1–8 images each (about 16,700 images), split by subject into train
(≈ 10,000 images), holdout and test (≈ 3,300 each). ``tiny``: 250 subjects (about 1,100 images) for
unit tests.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from deletion_sdk.data.age_bins import AgeBins
from deletion_sdk.data.splits import DEFAULT_FRACTIONS, subject_disjoint_split
from deletion_sdk.data.synthfaces import SynthFaces, SynthFacesConfig, generate_faces
from deletion_sdk.data.tensors import FaceTensors

__all__ = ["DEFAULT_N_SUBJECTS", "TINY_N_SUBJECTS", "AgePredictorData", "default_age_predictor_data"]

DEFAULT_N_SUBJECTS = 3_700
TINY_N_SUBJECTS = 250


@dataclass(frozen=True, eq=False)
class AgePredictorData:
    """Subject-disjoint splits of one generated data set.

    Attributes:
        train: the training rows (the deployed model's training set).
        holdout: rows of people never trained on (verification's reference population).
        test: a second disjoint population for utility figures.
        faces: the full generated data set (subject traits, UTKFace codes, config).
        bins: the age groups of the labels.
    """

    train: FaceTensors
    holdout: FaceTensors
    test: FaceTensors
    faces: SynthFaces
    bins: AgeBins

    def splits(self) -> dict[str, FaceTensors]:
        """``{"train": ..., "holdout": ..., "test": ...}``."""
        return {"train": self.train, "holdout": self.holdout, "test": self.test}


def default_age_predictor_data(
    seed: int = 0,
    *,
    size: Literal["default", "tiny"] = "default",
    image_size: int = 32,
    n_subjects: int | None = None,
    bins: AgeBins | None = None,
) -> AgePredictorData:
    """Generate the default synthetic data set and split it by subject (60 / 20 / 20 % of images).

    Args:
        seed: seeds both the generator and the split.
        size: ``"default"`` (train ≈ 10,000 images) or ``"tiny"`` (≈ 1,100 images, for tests).
        image_size: image side in pixels.
        n_subjects: override the number of subjects of ``size``.
        bins: age groups (default :class:`AgeBins`).
    """
    age_bins = bins if bins is not None else AgeBins()
    n = (
        n_subjects
        if n_subjects is not None
        else (DEFAULT_N_SUBJECTS if size == "default" else TINY_N_SUBJECTS)
    )
    faces = generate_faces(SynthFacesConfig(n_subjects=n, image_size=image_size, seed=seed), bins=age_bins)
    parts = subject_disjoint_split(faces.data, fractions=DEFAULT_FRACTIONS, seed=seed)
    return AgePredictorData(
        train=parts["train"], holdout=parts["holdout"], test=parts["test"], faces=faces, bins=age_bins
    )
