"""A team's plugins: its own nn.Module and a data source reading rows of a (JSON-lines) feature store."""

from __future__ import annotations

import base64
import json
from collections.abc import Iterator
from pathlib import Path
from typing import ClassVar

import torch
from torch import nn

from deletion_sdk.data.importers import SourceExample


class TeamTinyNet(nn.Module):
    """The team's own network: it normalises its own input (x - 0.5) * 2."""

    name: ClassVar[str] = "team_tiny"

    def __init__(self, *, num_classes: int, image_size: int) -> None:
        super().__init__()
        self.conv = nn.Conv2d(3, 4, 3, padding=1)
        self.head = nn.Linear(4 * image_size * image_size, num_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(torch.relu(self.conv((x - 0.5) * 2)).flatten(1))


class FeatureStoreRows:
    """Rows ``{"id", "user", "age", "png_b64", "split"}`` of a JSON-lines export."""

    name: ClassVar[str] = "team_rows"

    def __init__(self, *, path: str) -> None:
        self.path = Path(path)

    def examples(self) -> Iterator[SourceExample]:
        for line in self.path.read_text().splitlines():
            row = json.loads(line)
            yield SourceExample(
                example_id=row["id"],
                subject_id=row["user"],
                age=row["age"],
                data=base64.b64decode(row["png_b64"]),
                split=row.get("split"),
            )
