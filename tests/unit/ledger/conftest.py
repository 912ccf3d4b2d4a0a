"""Fixtures for ledger tests: a migrated ledger on each backend, a subject key, the built-in policies."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from deletion_sdk.ledger.db import Ledger
from deletion_sdk.ledger.subjects import SubjectKey
from deletion_sdk.policy import Policy, load_policy


@pytest.fixture
def ledger(db_url: str) -> Iterator[Ledger]:
    """A freshly migrated ledger (SQLite file, then real PostgreSQL)."""
    opened = Ledger.open(db_url, create=True)
    try:
        yield opened
    finally:
        opened.dispose()


@pytest.fixture
def key() -> SubjectKey:
    return SubjectKey(bytes(range(32)))


@pytest.fixture(scope="session")
def gdpr() -> Policy:
    return load_policy("gdpr-art17")


@pytest.fixture(scope="session")
def ccpa() -> Policy:
    return load_policy("ccpa")
