"""The :class:`DeletionSDK` facade: record deletion requests and lineage; later, unlearn, verify, certify.

Every method takes keyword arguments only, checks its input first (errors name the parameter, what it must
be and what it got), then delegates to small ledger functions, and returns one frozen result type.

    with DeletionSDK.open(home="./.deletion_sdk") as sdk:
        result = sdk.submit_request(subject="alice@example.com", policy="gdpr-art17")
        print(result.request.request_id, result.request.due_at)
"""

from __future__ import annotations

from pathlib import Path
from types import TracebackType

from pydantic import BaseModel, ConfigDict

from deletion_sdk._facade.external import ExternalOperations
from deletion_sdk._facade.intake import IntakeOperations
from deletion_sdk._facade.jobs import JobOperations
from deletion_sdk._facade.lineage import LineageOperations
from deletion_sdk._facade.models import ModelOperations
from deletion_sdk.context import Context
from deletion_sdk.errors import InputError
from deletion_sdk.ledger.db import Ledger
from deletion_sdk.ledger.subjects import SubjectKey
from deletion_sdk.settings import Settings

__all__ = ["DeletionSDK", "InitResult", "resolve_settings"]


class InitResult(BaseModel):
    """What :meth:`DeletionSDK.init` found or created."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    home: str
    database_url: str
    subject_key_path: str | None
    subject_key_created: bool
    subject_key_fingerprint: str
    revision_before: str | None
    revision: str | None


def resolve_settings(
    settings: Settings | None = None, *, home: Path | str | None = None, database_url: str | None = None
) -> Settings:
    """``settings`` (default: from the environment) with ``home`` / ``database_url`` overrides applied.

    With :class:`deletion_sdk.cli`, the one place that reads ``DELETION_SDK_*`` variables.
    """
    base = settings if settings is not None else Settings()
    update: dict[str, object] = {}
    if home is not None:
        update["home"] = Path(home)
    if database_url is not None:
        if not isinstance(database_url, str) or not database_url:
            raise InputError(
                f"The 'database_url' parameter must be an SQLAlchemy URL. Got {database_url!r} instead."
            )
        update["database_url"] = database_url
    return base.model_copy(update=update) if update else base


def _subject_key(settings: Settings) -> tuple[SubjectKey, bool]:
    if settings.subject_key is not None:
        return SubjectKey.from_hex(settings.subject_key.get_secret_value()), False
    return SubjectKey.load_or_create(settings.layout.subject_key)


class DeletionSDK(IntakeOperations, LineageOperations, ModelOperations, JobOperations, ExternalOperations):
    """The SDK for one deployment (one HOME, one ledger, one subject key).

    The operations are grouped by concept in :mod:`deletion_sdk._facade` (requests, lineage, models,
    keys/audit/certificates, batch jobs); this class adds the lifecycle. Every part of a job receives this
    deployment's :class:`~deletion_sdk.context.Context`: nothing below reads the environment.

    Attributes:
        context: settings, home layout and policy resolver.
        settings: the resolved settings (``context.settings``).
        ledger: the SQL ledger.
        subject_key: the HMAC key that turns identifiers into subject references.
    """

    # -- lifecycle ------------------------------------------------------------------------------------

    @classmethod
    def open(
        cls,
        *,
        database_url: str | None = None,
        home: Path | str | None = None,
        settings: Settings | None = None,
    ) -> DeletionSDK:
        """Open (creating on first use) the deployment: HOME, database, subject key; migrate the schema.

        Args:
            database_url: SQLAlchemy URL overriding settings (default: SQLite under HOME).
            home: SDK home overriding settings.
            settings: explicit settings (default: read from ``DELETION_SDK_*`` variables).

        Raises:
            ConfigurationError: unusable URL, unreachable database, or malformed subject key.
        """
        resolved = resolve_settings(settings, home=home, database_url=database_url)
        resolved.home.mkdir(parents=True, exist_ok=True)
        key, _created = _subject_key(resolved)
        ledger = Ledger.open(resolved.resolved_database_url, create=True)
        return cls(context=Context.from_settings(resolved), ledger=ledger, subject_key=key)

    @classmethod
    def init(
        cls,
        *,
        database_url: str | None = None,
        home: Path | str | None = None,
        settings: Settings | None = None,
    ) -> InitResult:
        """Create HOME, the database and the subject key (mode 0600) where absent; migrate the schema.

        Safe to run again: nothing existing is overwritten.
        """
        resolved = resolve_settings(settings, home=home, database_url=database_url)
        resolved.home.mkdir(parents=True, exist_ok=True)
        key, created = _subject_key(resolved)
        ledger = Ledger.open(resolved.resolved_database_url, create=False) if _db_exists(resolved) else None
        before = ledger.current_revision() if ledger is not None else None
        if ledger is None:
            ledger = Ledger.open(resolved.resolved_database_url, create=True)
        else:
            ledger.upgrade()
        try:
            return InitResult(
                home=str(resolved.home.resolve()),
                database_url=ledger.url,
                subject_key_path=None
                if resolved.subject_key is not None
                else str(resolved.layout.subject_key),
                subject_key_created=created,
                subject_key_fingerprint=key.fingerprint,
                revision_before=before,
                revision=ledger.current_revision(),
            )
        finally:
            ledger.dispose()

    def close(self) -> None:
        """Release database connections."""
        self.ledger.dispose()

    def __enter__(self) -> DeletionSDK:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()


def _db_exists(settings: Settings) -> bool:
    """Whether the ledger database already exists (always assumed for server databases)."""
    from deletion_sdk.ledger.db import normalise_database_url

    url = normalise_database_url(settings.resolved_database_url)
    if url.get_backend_name() != "sqlite":
        return True
    return bool(url.database) and Path(str(url.database)).exists()
