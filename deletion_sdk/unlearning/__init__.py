"""Unlearning: the :class:`Unlearner` base, the registry and the built-in methods.

Importing this package registers every built-in method; third-party methods arrive through the
``deletion_sdk.unlearners`` entry-point group, read lazily on the first registry lookup.
"""

from __future__ import annotations

from deletion_sdk.unlearning import methods as _methods  # noqa: F401  (registers the built-ins)
from deletion_sdk.unlearning._run import Batch, UnlearningRun
from deletion_sdk.unlearning._types import (
    UnlearnerParams,
    UnlearningContext,
    UnlearningProgress,
    UnlearningResult,
)
from deletion_sdk.unlearning.base import Unlearner
from deletion_sdk.unlearning.budget import estimate_retrain_time_s
from deletion_sdk.unlearning.provenance import UnlearnerProvenance, unlearner_provenance
from deletion_sdk.unlearning.registry import (
    ENTRY_POINT_GROUP,
    create_unlearner,
    get_unlearner,
    list_unlearners,
    load_entry_points,
    register_unlearner,
    run_unlearner,
    unlearner_source,
)

__all__ = [
    "ENTRY_POINT_GROUP",
    "Batch",
    "Unlearner",
    "UnlearnerParams",
    "UnlearnerProvenance",
    "UnlearningContext",
    "UnlearningProgress",
    "UnlearningResult",
    "UnlearningRun",
    "create_unlearner",
    "estimate_retrain_time_s",
    "get_unlearner",
    "list_unlearners",
    "load_entry_points",
    "register_unlearner",
    "run_unlearner",
    "unlearner_provenance",
    "unlearner_source",
]
