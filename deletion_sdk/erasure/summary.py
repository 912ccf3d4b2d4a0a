"""The report's "Erased artifacts" section: what a job erased besides the weights, in plain words."""

from __future__ import annotations

from collections import Counter
from datetime import datetime

from pydantic import BaseModel, ConfigDict
from sqlmodel import Session

from deletion_sdk.erasure.evidence import erased_artifacts
from deletion_sdk.erasure.records import ArtifactKind
from deletion_sdk.erasure.status import job_obligations
from deletion_sdk.ledger.job_state import ErasureProgress

__all__ = ["ErasedGroup", "ErasureInfo", "PendingObligation", "erasure_info"]

# One plain sentence per kind: (singular, plural), each read after a count.
_WORDS: dict[ArtifactKind, tuple[str, str]] = {
    ArtifactKind.SOURCE_FILE: (
        "photo of the forgotten people deleted from its dataset folder",
        "photos of the forgotten people deleted from their dataset folder",
    ),
    ArtifactKind.SOURCE_KEY: (
        "personal encryption key destroyed (their encrypted photos and backups are unreadable)",
        "personal encryption keys destroyed (their encrypted photos and backups are unreadable)",
    ),
    ArtifactKind.MODEL_WEIGHTS: (
        "earlier model version that had learned from them retired, its weights deleted",
        "earlier model versions that had learned from them retired, their weights deleted",
    ),
    ArtifactKind.JOB_SNAPSHOT: (
        "trial model that did not show it had forgotten them deleted",
        "trial models that did not show they had forgotten them deleted",
    ),
    ArtifactKind.SHADOW_BANK: (
        "set of reference models trained with their photos deleted",
        "sets of reference models trained with their photos deleted",
    ),
    ArtifactKind.TENSOR_CACHE: (
        "cache of decoded photos that held theirs deleted",
        "caches of decoded photos that held theirs deleted",
    ),
    ArtifactKind.QUALIFICATION_CACHE: (
        "folder of cached qualification models deleted (rebuilt when next needed)",
        "folders of cached qualification models deleted (rebuilt when next needed)",
    ),
    ArtifactKind.EXPORT: (
        "exported file holding their data deleted",
        "exported files holding their data deleted",
    ),
}


class ErasedGroup(BaseModel):
    """How many artifacts of one kind were erased, said in words."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    kind: str
    count: int
    words: str
    last_erased_at: datetime


class PendingObligation(BaseModel):
    """Something still owed, and by when."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    description: str
    due_at: datetime | None = None


class ErasureInfo(BaseModel):
    """What the job erased beyond the deployed weights, and what it still owes."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    groups: tuple[ErasedGroup, ...] = ()
    digests: tuple[tuple[str, str], ...] = ()  # (kind, SHA-256) of every erased artifact
    pending: tuple[PendingObligation, ...] = ()


def erasure_info(session: Session, job_id: str, progress: ErasureProgress) -> ErasureInfo:
    """The job's erased artifacts grouped by kind in plain words, and its remaining obligations."""
    artifacts = erased_artifacts(session, job_id=job_id)
    counts = Counter(a.kind for a in artifacts)
    groups = []
    for kind in ArtifactKind:
        n = counts.get(kind, 0)
        if n:
            singular, plural = _WORDS[kind]
            last = max(a.erased_at for a in artifacts if a.kind is kind)
            groups.append(
                ErasedGroup(
                    kind=kind.value, count=n, words=singular if n == 1 else plural, last_erased_at=last
                )
            )
    pending = tuple(
        PendingObligation(description=o.description, due_at=o.due_at)
        for o in job_obligations(session, job_id, progress)
    )
    return ErasureInfo(
        groups=tuple(groups), digests=tuple((a.kind.value, a.digest) for a in artifacts), pending=pending
    )
