"""Audit-log fixtures: a migrated ledger on each backend and an in-memory Ed25519 log key."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from deletion_sdk.attest.keys import Ed25519Signer
from deletion_sdk.ledger.db import Ledger


@pytest.fixture
def ledger(db_url: str) -> Iterator[Ledger]:
    """A freshly migrated ledger (SQLite file, then real PostgreSQL)."""
    opened = Ledger.open(db_url, create=True)
    try:
        yield opened
    finally:
        opened.dispose()


@pytest.fixture(scope="session")
def log_key() -> Ed25519Signer:
    return Ed25519Signer(Ed25519PrivateKey.generate())


@pytest.fixture(scope="session")
def other_key() -> Ed25519Signer:
    return Ed25519Signer(Ed25519PrivateKey.generate())
