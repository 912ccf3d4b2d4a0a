"""API tokens of the intake service: create, list, revoke, authenticate.

A token reads ``dsk_<id>.<secret>``: ``id`` (16 hex digits) is public and names the row; ``secret`` (32 random
bytes, URL-safe base64) is shown once, when the token is created, and only its SHA-256 is stored. SHA-256
without salt or stretching is enough here: the secret is 256 random bits, not a password, so there is
nothing to guess from its digest. Secrets are compared in constant time.

Scopes are ordered: ``intake`` (submit a request, read its status) < ``officer`` (review requests, jobs,
certificates, the audit log) < ``admin`` (webhook endpoints and dead letters).
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
from datetime import datetime
from enum import StrEnum

from pydantic import AwareDatetime, BaseModel, ConfigDict
from sqlmodel import Session, col, select

from deletion_sdk.errors import AuthenticationError, InputError, NotFoundError
from deletion_sdk.ledger._types import utcnow
from deletion_sdk.ledger.db import Ledger
from deletion_sdk.ledger.events import emit
from deletion_sdk.ledger.service_tables import ApiTokenRow

__all__ = [
    "CreatedToken",
    "Scope",
    "TokenRecord",
    "authenticate",
    "create_token",
    "list_tokens",
    "revoke_token",
]

TOKEN_PREFIX = "dsk_"
_TOKEN = re.compile(r"^dsk_([0-9a-f]{16})\.([A-Za-z0-9_-]{43})$")
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")


class Scope(StrEnum):
    """What a token may do; each scope includes the ones below it."""

    INTAKE = "intake"
    OFFICER = "officer"
    ADMIN = "admin"

    @property
    def rank(self) -> int:
        return _RANK[self]

    def allows(self, required: Scope) -> bool:
        """Whether a token of this scope may call an operation that requires ``required``."""
        return self.rank >= required.rank


_RANK = {Scope.INTAKE: 0, Scope.OFFICER: 1, Scope.ADMIN: 2}


class TokenRecord(BaseModel):
    """A stored token (never its secret)."""

    model_config = ConfigDict(frozen=True)

    token_id: str
    name: str
    scope: Scope
    created_at: AwareDatetime
    revoked_at: AwareDatetime | None

    @property
    def actor(self) -> str:
        """How this token's changes are attributed in the request history and the audit log."""
        return f"token:{self.token_id}"


class CreatedToken(BaseModel):
    """A new token: its record and the full token text (shown once, stored nowhere)."""

    model_config = ConfigDict(frozen=True)

    record: TokenRecord
    token: str


def _digest(secret: str) -> str:
    return hashlib.sha256(secret.encode("ascii")).hexdigest()


def _record(row: ApiTokenRow) -> TokenRecord:
    return TokenRecord(
        token_id=row.id,
        name=row.name,
        scope=Scope(row.scope),
        created_at=row.created_at,
        revoked_at=row.revoked_at,
    )


def parse_scope(value: object) -> Scope:
    """``value`` as a :class:`Scope`, or InputError listing the scopes."""
    try:
        return Scope(str(value))
    except ValueError as e:
        raise InputError(
            f"The 'scope' parameter must be one of {', '.join(s.value for s in Scope)}. "
            f"Got {value!r} instead."
        ) from e


def create_token(
    ledger: Ledger, *, name: str, scope: Scope | str, actor: str = "cli", now: datetime | None = None
) -> CreatedToken:
    """Create a token; the returned ``token`` text is the only copy of its secret.

    Raises:
        InputError: a name that is not 1-64 letters, digits, ``.``, ``_`` or ``-``; an unknown scope.
    """
    if not isinstance(name, str) or not _NAME.match(name):
        raise InputError(
            "The 'name' parameter must be 1 to 64 letters, digits, '.', '_' or '-' (starting with a letter "
            f"or digit). Got {name!r} instead."
        )
    level = parse_scope(scope)
    token_id = secrets.token_hex(8)
    secret = secrets.token_urlsafe(32)
    stamp = now or utcnow()
    row = ApiTokenRow(
        id=token_id, name=name, scope=level.value, secret_sha256=_digest(secret), created_at=stamp
    )
    with ledger.session() as session:
        session.add(row)
        session.flush()
        emit(session, "api_token.created", {"token_id": token_id, "scope": level.value}, actor=actor)
        record = _record(row)
    return CreatedToken(record=record, token=f"{TOKEN_PREFIX}{token_id}.{secret}")


def list_tokens(session: Session, *, include_revoked: bool = True) -> tuple[TokenRecord, ...]:
    """Tokens, oldest first."""
    query = select(ApiTokenRow).order_by(col(ApiTokenRow.created_at), col(ApiTokenRow.id))
    if not include_revoked:
        query = query.where(col(ApiTokenRow.revoked_at).is_(None))
    return tuple(_record(r) for r in session.exec(query).all())


def revoke_token(
    ledger: Ledger, *, token_id: str, actor: str = "cli", now: datetime | None = None
) -> TokenRecord:
    """Revoke a token (revoking it again changes nothing).

    Raises:
        NotFoundError: no token with this id.
    """
    with ledger.session() as session:
        row = session.get(ApiTokenRow, token_id, with_for_update=True) if isinstance(token_id, str) else None
        if row is None:
            raise NotFoundError(f"no API token with id {token_id!r}; `deletion-sdk tokens list` shows them")
        if row.revoked_at is None:
            row.revoked_at = now or utcnow()
            session.add(row)
            session.flush()
            emit(session, "api_token.revoked", {"token_id": row.id, "scope": row.scope}, actor=actor)
        return _record(row)


def authenticate(session: Session, token: str) -> TokenRecord:
    """The live token whose text is ``token``.

    Raises:
        AuthenticationError: malformed, unknown, wrong secret, or revoked (the message never echoes it).
    """
    match = _TOKEN.match(token) if isinstance(token, str) else None
    if match is None:
        raise AuthenticationError("malformed API token (expected dsk_<id>.<secret>)")
    token_id, secret = match.groups()
    row = session.get(ApiTokenRow, token_id)
    # Compare against a digest even for an unknown id, so the two failures take the same time.
    expected = row.secret_sha256 if row is not None else _digest("")
    if not hmac.compare_digest(expected, _digest(secret)) or row is None:
        raise AuthenticationError("unknown API token")
    if row.revoked_at is not None:
        raise AuthenticationError(f"API token {token_id} was revoked")
    return _record(row)
