"""The :class:`DeletionSDK` facade: record deletion requests and lineage; later, unlearn, verify, certify.

Every method takes keyword arguments only, checks its input first (errors name the parameter, what it must
be and what it got), then delegates to small ledger functions, and returns one frozen result type.

    with DeletionSDK.open(home="./.deletion_sdk") as sdk:
        result = sdk.submit_request(subject="alice@example.com", policy="gdpr-art17")
        print(result.request.request_id, result.request.due_at)
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime
from pathlib import Path
from types import TracebackType

from pydantic import BaseModel, ConfigDict

from deletion_sdk._operations import Operations
from deletion_sdk.errors import InputError
from deletion_sdk.ledger import intake, lineage, requests
from deletion_sdk.ledger._types import parse_instant, utcnow
from deletion_sdk.ledger.db import Ledger
from deletion_sdk.ledger.lineage import ExampleInput
from deletion_sdk.ledger.records import (
    DatasetRecord,
    ForgetSetManifest,
    HistoryEntry,
    ImportReport,
    RequestRecord,
    SubmitResult,
)
from deletion_sdk.ledger.statuses import RequestStatus
from deletion_sdk.ledger.subjects import SubjectKey, subject_ref
from deletion_sdk.policy import Policy, load_policy
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
    """``settings`` (default: from the environment) with ``home`` / ``database_url`` overrides applied."""
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
    return SubjectKey.load_or_create(settings.subject_key_path)


def _text(value: object, parameter: str, *, what: str) -> str:
    if not isinstance(value, str) or not value.strip():
        raise InputError(f"The '{parameter}' parameter must be {what}. Got {value!r} instead.")
    return value.strip()


class DeletionSDK(Operations):
    """The SDK for one deployment (one HOME, one ledger, one subject key).

    Attributes:
        settings: the resolved settings.
        ledger: the SQL ledger.
        subject_key: the HMAC key that turns identifiers into subject references.
    """

    def __init__(self, *, settings: Settings, ledger: Ledger, subject_key: SubjectKey) -> None:
        self.settings = settings
        self.ledger = ledger
        self.subject_key = subject_key
        self._policies: dict[str, Policy] = {}
        self._install_audit()  # every ledger change is appended to the audit log in its transaction

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
        return cls(settings=resolved, ledger=ledger, subject_key=key)

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
                subject_key_path=None if resolved.subject_key is not None else str(resolved.subject_key_path),
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

    # -- helpers --------------------------------------------------------------------------------------

    def policy(self, policy_id: str) -> Policy:
        """The policy with this id (cached per SDK instance).

        Raises:
            UnknownPolicyError: no such policy (the message lists the known ids).
        """
        cached = self._policies.get(policy_id)
        if cached is None:
            cached = load_policy(policy_id, policy_dir=self.settings.policy_dir)
            self._policies[policy_id] = cached
        return cached

    def subject_ref(self, *, subject: str) -> str:
        """The subject reference of a raw identifier under this deployment's key."""
        return subject_ref(subject, self.subject_key)

    # -- requests -------------------------------------------------------------------------------------

    def submit_request(
        self,
        *,
        subject: str,
        policy: str,
        received_at: datetime | str | None = None,
        idempotency_key: str | None = None,
        actor: str = "api",
        verified: bool = False,
    ) -> SubmitResult:
        """Record a deletion request (or return the one it duplicates).

        Args:
            subject: the person's identifier; only its keyed hash is stored.
            policy: policy id, e.g. ``gdpr-art17``.
            received_at: ISO 8601 text or datetime (naive means UTC); default now. Not in the future.
            idempotency_key: submitting the same key again returns the same request (``created=False``).
            actor: recorded in the history.
            verified: the intake channel already verified the requester's identity (e.g. a logged-in
                account deletion): a new request moves straight to ``verified``, recorded as such.

        Returns:
            The request; ``created`` is False for a repeat, and ``duplicate_of_open`` is True when the
            subject already had an open request under this policy (that request is returned).

        Raises:
            InputError: empty subject, unknown policy, malformed or future date, bad key.
            ConflictError: the idempotency key belongs to another subject's or policy's request.
        """
        policy_obj = self.policy(_text(policy, "policy", what="a policy id such as gdpr-art17"))
        ref = subject_ref(subject, self.subject_key)
        now = utcnow()
        received = (
            now if received_at is None else parse_instant(received_at, parameter="received_at", now=now)
        )
        key = (
            None
            if idempotency_key is None
            else intake.keyed_idempotency_key(
                self.subject_key, _text(idempotency_key, "idempotency_key", what="a non-empty key")
            )
        )
        who = _text(actor, "actor", what="a non-empty actor name")
        result = requests.submit(
            self.ledger,
            subject_ref=ref,
            policy=policy_obj,
            received_at=received,
            idempotency_key=key,
            actor=who,
        )
        if verified and result.created:
            record = self._verify_received([result.request.request_id], actor=who)[0]
            result = result.model_copy(update={"request": record})
        return result

    def _verify_received(self, request_ids: Sequence[str], *, actor: str) -> list[RequestRecord]:
        """Move ``received`` requests to ``verified`` (identity checked at intake), in one transaction."""
        out = []
        with self.ledger.session() as session:
            for rid in request_ids:
                record = requests.get(session, rid)
                if record.status == RequestStatus.RECEIVED.value:
                    record = requests.transition(
                        session,
                        request_id=rid,
                        to=RequestStatus.VERIFIED,
                        actor=actor,
                        reason="identity verified by the intake channel",
                    )
                out.append(record)
        return out

    def import_requests(
        self, *, path: Path | str, actor: str = "import", verified: bool = False
    ) -> ImportReport:
        """Import requests from a CSV or JSONL file (see :mod:`deletion_sdk.ledger.intake`).

        With ``verified`` the file's requesters were identity-checked upstream: imported requests still
        ``received`` move to ``verified``.

        Raises:
            ManifestError: unreadable file or malformed header (nothing imported). Bad rows do not raise:
                they are listed in the report.
        """
        who = _text(actor, "actor", what="a non-empty actor name")
        report = intake.import_requests(
            self.ledger, path=Path(path), subject_key=self.subject_key, load_policy=self.policy, actor=who
        )
        if verified and report.request_ids:
            self._verify_received(sorted(set(report.request_ids)), actor=who)
        return report

    def get_request(self, *, request_id: str) -> RequestRecord:
        """The request with this id (NotFoundError when there is none)."""
        with self.ledger.session(write=False) as session:
            return requests.get(session, _text(request_id, "request_id", what="a request id"))

    def request_history(self, *, request_id: str) -> tuple[HistoryEntry, ...]:
        """The request's status changes and extensions, oldest first."""
        with self.ledger.session(write=False) as session:
            return requests.history(session, _text(request_id, "request_id", what="a request id"))

    def list_requests(
        self,
        *,
        status: RequestStatus | str | None = None,
        policy: str | None = None,
        due_before: datetime | str | None = None,
        limit: int | None = None,
    ) -> tuple[RequestRecord, ...]:
        """Requests matching every given filter, ordered by due date."""
        due = (
            None
            if due_before is None
            else parse_instant(due_before, parameter="due_before", allow_future=True)
        )
        with self.ledger.session(write=False) as session:
            return requests.list_requests(session, status=status, policy=policy, due_before=due, limit=limit)

    def overdue(self, *, now: datetime | str | None = None) -> tuple[RequestRecord, ...]:
        """Open requests past their due date, most overdue first."""
        at = None if now is None else parse_instant(now, parameter="now", allow_future=True)
        with self.ledger.session(write=False) as session:
            return requests.overdue(session, now=at)

    def extend_request(self, *, request_id: str, reason: str, actor: str = "api") -> RequestRecord:
        """Extend the deadline once, as the request's policy allows, with a recorded reason.

        Raises:
            ConflictError: final request, already extended, no extension in the policy, or deadline passed.
        """
        request_id = _text(request_id, "request_id", what="a request id")
        reason = _text(reason, "reason", what="a non-empty reason")
        with self.ledger.session() as session:
            current = requests.get(session, request_id)
            return requests.extend(
                session, request_id=request_id, reason=reason, policy=self.policy(current.policy), actor=actor
            )

    def _move(self, request_id: str, to: RequestStatus, *, actor: str, reason: str | None) -> RequestRecord:
        request_id = _text(request_id, "request_id", what="a request id")
        with self.ledger.session() as session:
            return requests.transition(session, request_id=request_id, to=to, actor=actor, reason=reason)

    def verify_request(
        self, *, request_id: str, actor: str = "api", reason: str | None = None
    ) -> RequestRecord:
        """Mark the requester's identity as verified (received -> verified)."""
        return self._move(request_id, RequestStatus.VERIFIED, actor=actor, reason=reason)

    def deny_request(self, *, request_id: str, reason: str, actor: str = "api") -> RequestRecord:
        """Deny a request (a reason is required: it is what the person is told)."""
        reason = _text(reason, "reason", what="a non-empty reason")
        return self._move(request_id, RequestStatus.DENIED, actor=actor, reason=reason)

    def cancel_request(
        self, *, request_id: str, reason: str | None = None, actor: str = "api"
    ) -> RequestRecord:
        """Cancel a request (withdrawn by the person) before unlearning starts."""
        return self._move(request_id, RequestStatus.CANCELLED, actor=actor, reason=reason)

    # -- lineage --------------------------------------------------------------------------------------

    def register_dataset(
        self,
        *,
        name: str,
        manifest: Path | str | None = None,
        examples: Iterable[ExampleInput] | None = None,
    ) -> DatasetRecord:
        """Register a dataset from a CSV manifest, or from in-memory examples (exactly one of the two).

        Raises:
            ManifestError: malformed manifest or records (the message names the line or record).
            ConflictError: the name is taken.
            SuppressedSubjectError: some examples belong to erased subjects; nothing is registered.
        """
        name = _text(name, "name", what="a non-empty dataset name")
        if (manifest is None) == (examples is None):
            raise InputError("register_dataset needs exactly one of 'manifest' (a CSV path) or 'examples'.")
        if manifest is not None:
            parsed = lineage.read_manifest(Path(manifest), subject_key=self.subject_key)
            return lineage.register_examples(
                self.ledger,
                name=name,
                records=parsed.examples,
                root_dir=parsed.root_dir,
                manifest_digest=parsed.digest,
            )
        return lineage.register_examples(self.ledger, name=name, records=examples or ())

    def get_dataset(self, *, dataset: str | int) -> DatasetRecord:
        """A dataset by name or id (NotFoundError when there is none)."""
        with self.ledger.session(write=False) as session:
            return lineage.get_dataset(session, dataset)

    def list_datasets(self) -> tuple[DatasetRecord, ...]:
        """Every registered dataset."""
        with self.ledger.session(write=False) as session:
            return lineage.list_datasets(session)

    def resolve_forget_set(
        self,
        *,
        request_ids: Sequence[str],
        dataset: str | int | None = None,
        split: str | None = None,
    ) -> ForgetSetManifest:
        """The examples of these requests' subjects, as a sorted manifest with its Merkle root.

        Args:
            request_ids: the requests to resolve.
            dataset: restrict to one dataset (name or id).
            split: restrict to one split (``train`` for a model's training data).
        """
        if isinstance(request_ids, str) or not isinstance(request_ids, Sequence):
            raise InputError(
                f"The 'request_ids' parameter must be a sequence of request ids. Got {request_ids!r} instead."
            )
        with self.ledger.session(write=False) as session:
            return lineage.resolve_forget_set(
                session, request_ids=list(request_ids), dataset=dataset, split=split
            )


def _db_exists(settings: Settings) -> bool:
    """Whether the ledger database already exists (always assumed for server databases)."""
    from deletion_sdk.ledger.db import normalise_database_url

    url = normalise_database_url(settings.resolved_database_url)
    if url.get_backend_name() != "sqlite":
        return True
    return bool(url.database) and Path(str(url.database)).exists()
