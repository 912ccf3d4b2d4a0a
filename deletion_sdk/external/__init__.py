"""Bring your own model and data: models trained outside the SDK, imported datasets, training lineage.

=================  ===================================================================================
``recorder``       :class:`LineageRecorder` for a team's own loop (and a Lightning callback on demand)
``models``         :func:`register_external_model`: weights, recipe and recorded lineage into the ledger
``datasets``       :func:`import_scan` / :func:`import_source`: UTKFace folders, image folders, plugins
=================  ===================================================================================

torchvision architectures and the :class:`TrainingRecipe` live in :mod:`deletion_sdk.training.external`
(no ledger there); the folder scanners and the ``DatasetSource`` protocol in
:mod:`deletion_sdk.data.importers`.
"""

from __future__ import annotations

from deletion_sdk.external.recorder import LINEAGE_FORMAT, LineageRecorder, TrainingLineage, load_lineage

__all__ = ["LINEAGE_FORMAT", "LineageRecorder", "TrainingLineage", "load_lineage"]
