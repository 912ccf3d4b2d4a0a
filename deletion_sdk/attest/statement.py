"""in-toto Attestation Framework Statement v1: what a certificate's signed payload is.

    {"_type": "https://in-toto.io/Statement/v1",
     "subject": [{"name": "...", "digest": {"sha256": "<hex>"}}],
     "predicateType": "<URI>",
     "predicate": {...}}

The payload bytes are the RFC 8785 canonical JSON of this object, so any party can recompute them.
"""

from __future__ import annotations

import re
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_validator

__all__ = ["STATEMENT_TYPE", "ResourceDescriptor", "Statement"]

STATEMENT_TYPE = "https://in-toto.io/Statement/v1"
_HEX = re.compile(r"^[0-9a-f]+$")


class ResourceDescriptor(BaseModel):
    """A subject of the statement: a name and its digests (algorithm -> lowercase hex)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    name: str = Field(min_length=1)
    digest: dict[str, str] = Field(min_length=1)

    @field_validator("digest")
    @classmethod
    def _hex_digests(cls, value: dict[str, str]) -> dict[str, str]:
        for algorithm, hexdigest in value.items():
            if not _HEX.match(hexdigest):
                raise ValueError(f"digest[{algorithm!r}] must be lowercase hex")
        return value


class Statement(BaseModel):
    """An in-toto Statement v1 (field names as the spec spells them when dumped ``by_alias``)."""

    model_config = ConfigDict(frozen=True, extra="forbid", populate_by_name=True)

    type: str = Field(default=STATEMENT_TYPE, alias="_type")
    subject: tuple[ResourceDescriptor, ...] = Field(min_length=1)
    predicate_type: str = Field(alias="predicateType", min_length=1)
    predicate: dict[str, Any]

    @field_validator("type")
    @classmethod
    def _statement_v1(cls, value: str) -> str:
        if value != STATEMENT_TYPE:
            raise ValueError(f"_type must be {STATEMENT_TYPE!r}")
        return value

    def to_json_obj(self) -> dict[str, Any]:
        """The statement as a JSON object with the spec's field names."""
        return self.model_dump(mode="json", by_alias=True)
