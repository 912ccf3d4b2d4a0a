"""Model versions and their lineage: weights digest, architecture, training data, parent, status.

A model ``name`` has versions 1, 2, …; at most one is ``deployed`` (a partial unique index enforces it).
:func:`mark_deployed` promotes one version and demotes the previously deployed one to ``superseded`` in the
same transaction. Unlearned versions name their ``parent``; nothing ever overwrites a version. SQL only.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlmodel import Session, col, func, select

from deletion_sdk.errors import ConflictError, InputError, NotFoundError
from deletion_sdk.ledger._types import utcnow
from deletion_sdk.ledger.core_tables import Dataset, ModelVersion
from deletion_sdk.ledger.db import Ledger
from deletion_sdk.ledger.events import emit
from deletion_sdk.ledger.records import ModelVersionRecord
from deletion_sdk.ledger.retirement import check_deployable
from deletion_sdk.ledger.statuses import ModelStatus
from deletion_sdk.logging import get_logger

__all__ = [
    "add_model_version",
    "deployed",
    "get_model_version",
    "list_model_versions",
    "mark_deployed",
    "register_model_version",
    "set_status",
]

_DIGEST = re.compile(r"^[0-9a-f]{64}$")


def _log() -> Any:
    # Looked up per call: a logger bound at import time would ignore a later configure_logging().
    return get_logger(__name__)


def _record(row: ModelVersion) -> ModelVersionRecord:
    if row.id is None:  # pragma: no cover - stored rows have ids
        raise RuntimeError("model version without id")
    return ModelVersionRecord(
        model_version_id=row.id,
        name=row.name,
        version=row.version,
        weights_digest=row.weights_digest,
        path=row.path,
        architecture=row.architecture,
        dataset_id=row.dataset_id,
        training_root=row.training_root,
        parent_id=row.parent_id,
        status=row.status,
        metrics=dict(row.metrics or {}),
        created_at=row.created_at,
    )


def _digest(value: str | None, parameter: str, *, required: bool) -> str | None:
    if value is None and not required:
        return None
    if not isinstance(value, str) or not _DIGEST.match(value):
        raise InputError(
            f"The '{parameter}' parameter must be 64 lowercase hex digits (SHA-256). Got {value!r} instead."
        )
    return value


def add_model_version(
    session: Session,
    *,
    name: str,
    weights_digest: str,
    architecture: str,
    path: str | None = None,
    dataset_id: int | None = None,
    training_root: str | None = None,
    parent_id: int | None = None,
    metrics: Mapping[str, Any] | None = None,
    status: ModelStatus | str = ModelStatus.CANDIDATE,
    now: datetime | None = None,
) -> ModelVersionRecord:
    """Record a new version of model ``name`` (version number = previous + 1) inside ``session``.

    ``status`` may be ``candidate`` (default) or ``rejected``; use :func:`mark_deployed` to deploy.
    A concurrent registration of the same name may make the flush fail with an IntegrityError
    (:func:`register_model_version` retries that in a fresh transaction).

    Raises:
        InputError: malformed arguments.
        NotFoundError: unknown dataset or parent.
    """
    if not isinstance(name, str) or not name.strip():
        raise InputError(f"The 'name' parameter must be a non-empty model name. Got {name!r} instead.")
    if not isinstance(architecture, str) or not architecture.strip():
        raise InputError(
            f"The 'architecture' parameter must be a non-empty string. Got {architecture!r} instead."
        )
    _digest(weights_digest, "weights_digest", required=True)
    _digest(training_root, "training_root", required=False)
    try:
        initial = ModelStatus(status)
    except ValueError as e:
        raise InputError(
            f"The 'status' parameter must be candidate or rejected. Got {status!r} instead."
        ) from e
    if initial not in (ModelStatus.CANDIDATE, ModelStatus.REJECTED):
        raise InputError(
            "The 'status' parameter must be candidate or rejected (deploy with mark_deployed). "
            f"Got {status!r} instead."
        )
    if dataset_id is not None and session.get(Dataset, dataset_id) is None:
        raise NotFoundError(f"no dataset with id {dataset_id}")
    if parent_id is not None and session.get(ModelVersion, parent_id) is None:
        raise NotFoundError(f"no model version with id {parent_id}")
    latest = session.exec(select(func.max(ModelVersion.version)).where(ModelVersion.name == name)).one()
    row = ModelVersion(
        name=name.strip(),
        version=int(latest or 0) + 1,
        weights_digest=weights_digest,
        path=path,
        architecture=architecture,
        dataset_id=dataset_id,
        training_root=training_root,
        parent_id=parent_id,
        status=initial.value,
        metrics=dict(metrics or {}),
        created_at=now or utcnow(),
    )
    session.add(row)
    session.flush()
    record = _record(row)
    emit(
        session,
        "model.registered",
        {
            "model_name": record.name,
            "version": record.version,
            "version_id": record.model_version_id,
            "weights_sha256": record.weights_digest,
            "architecture": record.architecture,
            "dataset_id": record.dataset_id,
            "training_root": record.training_root,
            "parent_version_id": record.parent_id,
            "status": record.status,
        },
        actor="ledger",
    )
    return record


def register_model_version(ledger: Ledger, **fields: Any) -> ModelVersionRecord:
    """:func:`add_model_version` in a transaction of its own, retried when a concurrent registration
    took the same version number."""
    for _attempt in range(5):
        try:
            with ledger.session() as session:
                record = add_model_version(session, **fields)
        except sa.exc.IntegrityError:  # another process took the same version number: take the next one
            continue
        _log().info(
            "model_version.registered", model=record.name, version=record.version, id=record.model_version_id
        )
        return record
    raise ConflictError(f"could not allocate a version number for model {fields.get('name')!r}; try again")


def _row(session: Session, model_version_id: int) -> ModelVersion:
    row = session.get(ModelVersion, model_version_id, with_for_update=True)
    if row is None:
        raise NotFoundError(f"no model version with id {model_version_id}")
    return row


def get_model_version(session: Session, model_version_id: int) -> ModelVersionRecord:
    """The version with this id.

    Raises:
        NotFoundError: no such version.
    """
    row = session.get(ModelVersion, model_version_id)
    if row is None:
        raise NotFoundError(f"no model version with id {model_version_id}")
    return _record(row)


def list_model_versions(session: Session, *, name: str | None = None) -> tuple[ModelVersionRecord, ...]:
    """Versions (of one model, or all), ordered by name and version."""
    query = select(ModelVersion)
    if name is not None:
        query = query.where(ModelVersion.name == name)
    query = query.order_by(col(ModelVersion.name), col(ModelVersion.version))
    return tuple(_record(r) for r in session.exec(query).all())


def deployed(session: Session, name: str) -> ModelVersionRecord:
    """The deployed version of model ``name``.

    Raises:
        NotFoundError: no version of that model is deployed.
    """
    row = session.exec(
        select(ModelVersion).where(
            ModelVersion.name == name, ModelVersion.status == ModelStatus.DEPLOYED.value
        )
    ).first()
    if row is None:
        raise NotFoundError(f"no deployed version of model {name!r}")
    return _record(row)


def mark_deployed(session: Session, model_version_id: int) -> ModelVersionRecord:
    """Deploy a version; the previously deployed version of the same model becomes ``superseded``.

    Raises:
        NotFoundError: no such version.
        ConflictError: the version was rejected.
        ContainsErasedDataError: the version is retired, or holds data of people whose erasure was
            requested (the message names the version and why).
    """
    row = _row(session, model_version_id)
    if row.status == ModelStatus.DEPLOYED.value:
        return _record(row)
    if row.status == ModelStatus.REJECTED.value:
        raise ConflictError(f"model version {model_version_id} was rejected and cannot be deployed")
    check_deployable(session, row)
    previous = session.exec(
        select(ModelVersion)
        .where(ModelVersion.name == row.name, ModelVersion.status == ModelStatus.DEPLOYED.value)
        .with_for_update()
    ).first()
    if previous is not None:
        previous.status = ModelStatus.SUPERSEDED.value
        session.add(previous)
        session.flush()  # the partial unique index must see the demotion before the promotion
    row.status = ModelStatus.DEPLOYED.value
    session.add(row)
    session.flush()
    emit(
        session,
        "model.deployed",
        {
            "model_name": row.name,
            "version": row.version,
            "version_id": row.id,
            "weights_sha256": row.weights_digest,
            "superseded_version_id": None if previous is None else previous.id,
        },
        actor="ledger",
    )
    _log().info(
        "model_version.deployed",
        model=row.name,
        version=row.version,
        superseded=None if previous is None else previous.version,
    )
    return _record(row)


def set_status(session: Session, model_version_id: int, status: ModelStatus | str) -> ModelVersionRecord:
    """Set a version's status (``candidate``, ``rejected`` or ``superseded``; deploy with mark_deployed).

    Raises:
        InputError: unknown status, or ``deployed``.
        NotFoundError: no such version.
    """
    try:
        target = ModelStatus(status)
    except ValueError as e:
        raise InputError(
            f"The 'status' parameter must be one of {', '.join(s.value for s in ModelStatus)}. "
            f"Got {status!r} instead."
        ) from e
    if target is ModelStatus.DEPLOYED:
        raise InputError(
            "The 'status' parameter must not be deployed here; use mark_deployed. Got 'deployed'."
        )
    row = _row(session, model_version_id)
    before = row.status
    if before == ModelStatus.RETIRED.value and target is not ModelStatus.RETIRED:
        raise ConflictError(f"model version {model_version_id} is retired; its status cannot change")
    row.status = target.value
    session.add(row)
    session.flush()
    if before != row.status:
        emit(
            session,
            "model.status_changed",
            {"version_id": row.id, "from_status": before, "to_status": row.status},
            actor="ledger",
        )
    return _record(row)
