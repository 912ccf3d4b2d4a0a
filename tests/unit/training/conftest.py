"""Training tests run torch on one intra-op thread.

The models here are tiny, so a second thread buys little, while on a shared CI machine torch's
spinning thread pool can make them many times slower (measured: 8x on two busy cores). The previous
setting is restored after each test; nothing outside these tests is affected.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import torch


@pytest.fixture(autouse=True)
def _one_torch_thread() -> Iterator[None]:
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(before)
