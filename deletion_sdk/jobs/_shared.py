"""What the batch job and the red-team check must compute identically: attempt seeds and the LiRA pool."""

from __future__ import annotations

import hashlib

import torch

from deletion_sdk.data import FaceTensors

__all__ = ["attempt_seed", "shadow_pool"]


def attempt_seed(settings_seed: int, forget_merkle_root: str | None, attempt: int) -> int:
    """The seed of an attempt: from the deployment's seed and the forget set, never from a job id.

    The same requests on the same data give the same unlearning and verification randomness, so an
    outcome can be reproduced; ``DELETION_SDK_SEED`` varies it.
    """
    material = f"{settings_seed}:{forget_merkle_root}"
    return int(hashlib.sha256(material.encode()).hexdigest()[:7], 16) + attempt


def shadow_pool(retain: FaceTensors, forget: FaceTensors) -> FaceTensors:
    """Rows of both, sorted by example id: the stable pool a model version's shadow bank is trained on."""
    ids = (*retain.example_ids, *forget.example_ids)
    order = sorted(range(len(ids)), key=ids.__getitem__)
    both = FaceTensors(
        images=torch.cat([retain.images, forget.images]),
        labels=torch.cat([retain.labels, forget.labels]),
        ages=torch.cat([retain.ages, forget.ages]),
        example_ids=ids,
    )
    return both.take(order)
