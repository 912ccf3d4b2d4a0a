"""Erasure beyond the weights: source files, retired model versions, shadow banks, caches, job snapshots.

:mod:`~deletion_sdk.erasure.store` is the storage interface for source data (a local-filesystem store built
in, other stores as ``deletion_sdk.stores`` plugins); :mod:`~deletion_sdk.erasure.records` holds the
evidence records.
"""

from __future__ import annotations
