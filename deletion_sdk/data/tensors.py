"""In-memory image tensors: the one dataset form training, unlearning and verification share.

A :class:`FaceTensors` holds uint8 images ``[n, 3, H, W]``, integer age-group labels ``[n]``,
ages in years ``[n]`` and the stable example ids. Indexing it as a torch ``Dataset`` yields
``(image, label, index)`` with the image as float32 in [0, 1]. :func:`iterate_batches` is the
fast path: it slices the tensors directly instead of collating item by item.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass

import torch
from torch.utils.data import Dataset

from deletion_sdk.errors import InputError

__all__ = ["FaceTensors", "iterate_batches"]


@dataclass(frozen=True, eq=False)
class FaceTensors(Dataset[tuple[torch.Tensor, int, int]]):
    """Images with labels and ids.

    Attributes:
        images: uint8 ``[n, 3, H, W]``.
        labels: int64 ``[n]``, age-group class index.
        ages: float32 ``[n]``, age in years.
        example_ids: ``n`` stable example ids, in the same order.
        subject_ids: optional ``n`` subject ids (raw, in memory only; never persisted by this class).
    """

    images: torch.Tensor
    labels: torch.Tensor
    ages: torch.Tensor
    example_ids: tuple[str, ...]
    subject_ids: tuple[str, ...] | None = None

    def __post_init__(self) -> None:
        n = self.images.shape[0]
        if self.images.dim() != 4 or self.images.shape[1] != 3:
            raise InputError(f"images must be shaped [n, 3, H, W]. Got {tuple(self.images.shape)} instead.")
        for name, value in (("labels", self.labels), ("ages", self.ages)):
            if value.shape != (n,):
                raise InputError(f"{name} must be shaped [{n}]. Got {tuple(value.shape)} instead.")
        if len(self.example_ids) != n:
            raise InputError(f"example_ids must have {n} entries. Got {len(self.example_ids)} instead.")
        if self.subject_ids is not None and len(self.subject_ids) != n:
            raise InputError(f"subject_ids must have {n} entries. Got {len(self.subject_ids)} instead.")

    def __len__(self) -> int:
        return int(self.images.shape[0])

    def __getitem__(self, index: int) -> tuple[torch.Tensor, int, int]:
        return self.images[index].float().div_(255.0), int(self.labels[index]), index

    @property
    def image_size(self) -> int:
        return int(self.images.shape[-1])

    def take(self, positions: Sequence[int] | torch.Tensor) -> FaceTensors:
        """A new FaceTensors holding the rows at ``positions`` (in that order)."""
        idx = torch.as_tensor(positions, dtype=torch.long)
        pos = idx.tolist()
        return FaceTensors(
            images=self.images[idx],
            labels=self.labels[idx],
            ages=self.ages[idx],
            example_ids=tuple(self.example_ids[i] for i in pos),
            subject_ids=None if self.subject_ids is None else tuple(self.subject_ids[i] for i in pos),
        )

    def restrict(self, example_ids: Iterable[str]) -> FaceTensors:
        """Only the rows whose example id is in ``example_ids`` (order of this dataset kept)."""
        wanted = set(example_ids)
        return self.take([i for i, eid in enumerate(self.example_ids) if eid in wanted])

    def exclude(self, example_ids: Iterable[str]) -> FaceTensors:
        """Every row except those whose example id is in ``example_ids``."""
        unwanted = set(example_ids)
        return self.take([i for i, eid in enumerate(self.example_ids) if eid not in unwanted])


def iterate_batches(
    data: FaceTensors,
    batch_size: int,
    *,
    shuffle: bool = False,
    generator: torch.Generator | None = None,
    device: torch.device | str = "cpu",
    drop_last: bool = False,
) -> Iterator[tuple[torch.Tensor, torch.Tensor, torch.Tensor]]:
    """Yield ``(images [b, 3, H, W] float32 in [0,1], labels [b], positions [b])`` on ``device``.

    The uint8 batch is moved first (4x fewer bytes, pinned on CUDA) and converted on the device.
    """
    if batch_size < 1:
        raise InputError(f"The 'batch_size' parameter must be an int >= 1. Got {batch_size!r} instead.")
    n = len(data)
    order = torch.randperm(n, generator=generator) if shuffle else torch.arange(n)
    dev = torch.device(device)
    non_blocking = dev.type == "cuda"
    stop = n - (n % batch_size) if drop_last else n
    for start in range(0, stop, batch_size):
        idx = order[start : start + batch_size]
        x = data.images[idx]
        y = data.labels[idx]
        if non_blocking:
            x, y = x.pin_memory(), y.pin_memory()
        x = x.to(dev, non_blocking=non_blocking).float().div_(255.0)
        yield x, y.to(dev, non_blocking=non_blocking), idx
