"""Which code an unlearner is: its class, where it came from, and a digest of its source.

A certificate names the method that made the model forget. A name alone proves nothing (anyone can
register a class under ``retrain`` with ``force=True``), so the batch job records the class's import
path, its source (``builtin`` for the SDK's own methods, ``plugin:<distribution>==<version>`` for an
entry-point plugin, else the defining module) and the SHA-256 of the file that defines it.
"""

from __future__ import annotations

import hashlib
import inspect
from pathlib import Path

from pydantic import BaseModel, ConfigDict

from deletion_sdk.unlearning.registry import get_unlearner, unlearner_source

__all__ = ["UnlearnerProvenance", "code_digest", "unlearner_provenance"]


class UnlearnerProvenance(BaseModel):
    """The identity of a registered unlearner's code.

    Attributes:
        name: the registry name.
        version: the class's declared version.
        class_path: ``module.QualifiedName`` of the class that runs.
        source: ``builtin``, ``plugin:<distribution>==<version>`` or the defining module.
        code_sha256: SHA-256 of the file that defines the class (None when it has no readable file).
    """

    model_config = ConfigDict(frozen=True)

    name: str
    version: str
    class_path: str
    source: str
    code_sha256: str | None


def code_digest(cls: type) -> str | None:
    """SHA-256 of the file that defines ``cls`` (None when it has no readable file)."""
    try:
        return hashlib.sha256(Path(inspect.getfile(cls)).read_bytes()).hexdigest()
    except (OSError, TypeError):
        return None


def unlearner_provenance(name: str) -> UnlearnerProvenance:
    """The provenance of the unlearner registered as ``name``.

    Raises:
        RegistryError: no unlearner of that name (the message lists the registered ones).
    """
    cls = get_unlearner(name)
    return UnlearnerProvenance(
        name=name,
        version=str(getattr(cls, "version", "unknown")),
        class_path=f"{cls.__module__}.{cls.__qualname__}",
        source=unlearner_source(name),
        code_sha256=code_digest(cls),
    )
