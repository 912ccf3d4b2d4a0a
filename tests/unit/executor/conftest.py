from __future__ import annotations

import pytest

from tests.executor_support import Split, make_split


@pytest.fixture(scope="session")
def split() -> Split:
    return make_split()
