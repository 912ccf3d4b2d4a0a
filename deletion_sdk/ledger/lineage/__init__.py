"""Lineage: datasets, their examples and owners, forget-set resolution, and the suppression list.

=================  ========================================================================================
``manifest``       :class:`ExampleInput`, CSV manifests (:func:`read_manifest`), ``SPLITS``
``leaves``         Merkle leaves (:func:`leaf_bytes`) and roots over them (:func:`leaves_root`)
``datasets``       :func:`register_examples` (one transaction, dialect bulk insert), reading datasets back
``forget``         :func:`resolve_forget_set`: requests' or subjects' examples as a Merkle-rooted manifest
``suppression``    the list of erased subjects, refused at registration
=================  ========================================================================================

A dataset is registered once, from a CSV manifest (:func:`read_manifest` + :func:`register_examples`) or from
in-memory records (:func:`register_examples` alone, e.g. for synthetic data). Each example records its
``subject_ref`` (never the raw subject id), the SHA-256 of its bytes, its age label and split. The dataset's
``examples_root`` is the RFC 9162 Merkle root over its examples' leaves (encoding below), so a model version
can cite exactly which data it was trained on.

Leaf encoding (forget sets, dataset roots): the UTF-8 bytes of the RFC 8785 (JCS) canonical JSON array
``[example_id, content_digest]`` — e.g. ``["ex-000017","9f86d0…"]`` — with leaves sorted by ``example_id``
in code-point order; tree hashing is :mod:`deletion_sdk.merkle` (RFC 9162).

Subjects on the suppression list (already erased) are refused at registration with
:class:`~deletion_sdk.errors.SuppressedSubjectError`: nothing is ingested and the error lists counts and
example ids.
"""

from __future__ import annotations

from deletion_sdk.ledger.lineage.datasets import (
    dataset_examples,
    examples_root,
    get_dataset,
    list_datasets,
    register_examples,
)
from deletion_sdk.ledger.lineage.forget import resolve_forget_set
from deletion_sdk.ledger.lineage.leaves import leaf_bytes, leaves_root
from deletion_sdk.ledger.lineage.manifest import (
    MANIFEST_COLUMNS,
    MAX_AGE,
    SPLITS,
    ExampleInput,
    ParsedManifest,
    read_manifest,
)
from deletion_sdk.ledger.lineage.suppression import is_suppressed, list_suppressions, suppress

__all__ = [
    "MANIFEST_COLUMNS",
    "MAX_AGE",
    "SPLITS",
    "ExampleInput",
    "ParsedManifest",
    "dataset_examples",
    "examples_root",
    "get_dataset",
    "is_suppressed",
    "leaf_bytes",
    "leaves_root",
    "list_datasets",
    "list_suppressions",
    "read_manifest",
    "register_examples",
    "resolve_forget_set",
    "suppress",
]
