"""Group commit: concurrent intake submissions (and token checks) share one database transaction.

Each caller waits on its own future while a :class:`GroupRunner` works through the queue in its own
thread: the first item that arrives while the runner is idle is handled at once (a group of one, no added
delay); every item that arrives meanwhile joins the next group. A group costs one transaction however many
items it holds, so the per-request cost (pool checkout, round trips, commit, the audit head's lock) is
shared and throughput rises with load instead of queueing.

* :class:`IntakeBatcher` records submissions with :func:`~deletion_sdk.ledger.submit_batch.submit_many`:
  one transaction, one audit append, one webhook-outbox insert per group.
* :class:`TokenChecker` authenticates bearer tokens in one read transaction per group (each token is still
  looked up on every call, so a revocation takes effect at once). The intake writer checks its group's
  tokens the same way, in its own thread, just before recording the group.

Nothing about a single request changes: each caller gets its own answer (created, replayed, duplicate of an
open request) or its own error (a bad field, an unknown policy, a key of another request, an unknown
token), exactly as if it had been handled alone, and only once the transaction holding it has committed.
Across server processes the database's unique constraints still decide (see ``submit_many``).
"""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime
from typing import Generic, TypeVar

from sqlmodel import Session

from deletion_sdk.errors import AuthenticationError, DeletionSDKError
from deletion_sdk.ledger._types import utcnow
from deletion_sdk.ledger.api_tokens import TokenRecord, authenticate
from deletion_sdk.ledger.intake import keyed_idempotency_key
from deletion_sdk.ledger.records import SubmitResult
from deletion_sdk.ledger.request_input import validate_request_input
from deletion_sdk.ledger.subjects import subject_ref
from deletion_sdk.ledger.submit_batch import Outcome, SubmitItem, submit_many
from deletion_sdk.sdk import DeletionSDK

__all__ = ["MAX_BATCH", "GroupRunner", "IntakeBatcher", "Submission", "TokenChecker", "authenticate_all"]

MAX_BATCH = 256
"""The most items handled in one transaction (more wait for the next one)."""

T = TypeVar("T")
R = TypeVar("R")


class GroupRunner(Generic[T, R]):
    """Runs ``handle(group)`` in one worker thread for the items that waiting callers queued.

    ``handle`` returns one outcome per item, in order: a result, or an exception that is raised to that
    item's caller alone.

    Args:
        handle: handles one group (runs in the runner's thread).
        name: the thread's name.
        max_batch: the most items per group.
    """

    def __init__(
        self,
        handle: Callable[[Sequence[T]], Sequence[R | Exception]],
        *,
        name: str,
        max_batch: int = MAX_BATCH,
    ) -> None:
        self._handle = handle
        self._name = name
        self.max_batch = max_batch
        self._pending: deque[tuple[T, asyncio.Future[R]]] = deque()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._runner: asyncio.Task[None] | None = None
        self._executor: ThreadPoolExecutor | None = None
        self.groups = 0  # groups handled (for tests and diagnostics)

    async def run(self, item: T) -> R:
        """Queue ``item``, wait for its group, and return its result (or raise its error).

        A caller that goes away (a closed connection) does not take its item with it: it is handled all the
        same.
        """
        loop = asyncio.get_running_loop()
        if loop is not self._loop:  # a new loop (a test client's): the old loop's queue died with it
            self._loop, self._runner = loop, None
            self._pending.clear()
        future: asyncio.Future[R] = loop.create_future()
        self._pending.append((item, future))
        if self._runner is None or self._runner.done():
            self._runner = loop.create_task(self._drain())
        return await asyncio.shield(future)

    async def _drain(self) -> None:
        loop = asyncio.get_running_loop()
        if self._executor is None:
            self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix=self._name)
        while self._pending:
            group = [self._pending.popleft() for _ in range(min(len(self._pending), self.max_batch))]
            items = [item for item, _ in group]
            outcomes: Sequence[R | Exception]
            try:
                outcomes = await loop.run_in_executor(self._executor, self._handled, items)
            except Exception as e:  # the handler itself failed: every caller of the group hears it
                outcomes = [e] * len(group)
            for (_, future), outcome in zip(group, outcomes, strict=True):
                if future.done():
                    continue
                if isinstance(outcome, Exception):
                    future.set_exception(outcome)
                else:
                    future.set_result(outcome)

    def _handled(self, items: Sequence[T]) -> Sequence[R | Exception]:
        outcomes = self._handle(items)
        self.groups += 1
        if len(outcomes) != len(items):
            raise RuntimeError(f"{self._name}: {len(outcomes)} outcomes for {len(items)} items")
        return outcomes

    def close(self) -> None:
        """Finish the group being handled and stop the thread (the next item starts another)."""
        executor, self._executor = self._executor, None
        if executor is not None:
            executor.shutdown(wait=True)


@dataclass(frozen=True, slots=True)
class Submission:
    """One intake request as the HTTP layer received it: the bearer token's text (checked by the writer)
    and the body's fields (the raw identifier is hashed in the writer, never stored or logged)."""

    token: str
    subject: str
    policy: str
    received_at: datetime | str | None
    idempotency_key: str | None
    verified: bool = False


Admit = Callable[[TokenRecord], TokenRecord]
"""Admits an authenticated caller (scope, rate limit): returns its record or raises the error to answer."""


def authenticate_all(session: Session, tokens: Sequence[str]) -> list[TokenRecord | Exception]:
    """Each token's live record, or its AuthenticationError; one lookup per distinct token."""
    answers: dict[str, TokenRecord | Exception] = {}
    for token in tokens:
        if token not in answers:
            try:
                answers[token] = authenticate(session, token)
            except DeletionSDKError as e:
                answers[token] = e
    return [answers[t] for t in tokens]


class _Callers:
    """The callers of one group: their tokens are authenticated inside the group's own transaction (the
    batch's gate), once, and each caller is admitted once even when the batch is retried."""

    def __init__(self, tokens: Sequence[str], admit: Admit) -> None:
        self.tokens = tokens
        self.admit = admit
        self.answers: list[TokenRecord | Exception] | None = None

    def settle(self, session: Session) -> list[TokenRecord | Exception]:
        if self.answers is None:
            answers: list[TokenRecord | Exception] = []
            for found in authenticate_all(session, self.tokens):
                try:
                    answers.append(found if isinstance(found, Exception) else self.admit(found))
                except Exception as e:  # the admission's refusal (403, 429) is this caller's answer
                    answers.append(e)
            self.answers = answers
        return self.answers


def _actor(token: str) -> str:
    """``token:<id>`` from a token's public id part; the gate confirms it against the stored token."""
    return "token:" + token.split(".", 1)[0].removeprefix("dsk_")


class IntakeBatcher(GroupRunner[Submission, SubmitResult]):
    """Records concurrent submissions in shared transactions (group commit).

    Each group's tokens are authenticated inside the group's transaction, before anything is decided
    (:func:`~deletion_sdk.ledger.api_tokens.authenticate`, then ``admit``): a refused caller gets that error,
    never a validation error (which could tell it, e.g., which policies exist), and nothing is recorded.

    Args:
        sdk: the open deployment.
        admit: admits an authenticated caller (the service checks scope and rate limit); raises to refuse.
        max_batch: the most submissions per transaction.
    """

    def __init__(self, sdk: DeletionSDK, *, admit: Admit, max_batch: int = MAX_BATCH) -> None:
        super().__init__(self.write, name="intake-writer", max_batch=max_batch)
        self.sdk = sdk
        self.admit = admit

    async def submit(self, submission: Submission) -> SubmitResult:
        """Record ``submission`` with whatever else is waiting; return its result or raise its error.

        Raises:
            AuthenticationError: the token is malformed, unknown or revoked.
            DeletionSDKError: this submission's own error (InputError, UnknownPolicyError, ConflictError).
            Exception: whatever ``admit`` raised for the caller.
        """
        return await self.run(submission)

    def write(self, submissions: Sequence[Submission]) -> list[Outcome]:
        """Validate and pseudonymise ``submissions``, then check their tokens and record them in one
        transaction (runs in the writer thread).

        Returns:
            One outcome per submission, in order (see :func:`~deletion_sdk.ledger.submit_batch.submit_many`).
        """
        now = utcnow()
        callers = _Callers([s.token for s in submissions], self.admit)
        prepared: list[SubmitItem | DeletionSDKError] = []
        for s in submissions:
            try:
                prepared.append(self._item(s, _actor(s.token), now))
            except DeletionSDKError as e:
                prepared.append(e)
        items = [p for p in prepared if isinstance(p, SubmitItem)]
        position = {id(item): i for i, item in enumerate(prepared)}

        def gate(session: Session, batch: Sequence[SubmitItem]) -> list[Exception | None]:
            answers = callers.settle(session)
            out: list[Exception | None] = []
            for item in batch:
                caller = answers[position[id(item)]]
                if isinstance(caller, Exception):
                    out.append(caller)
                elif caller.actor != item.actor:  # cannot happen: authenticate looks the token up by its id
                    out.append(AuthenticationError("unknown API token"))
                else:
                    out.append(None)
            return out

        written = iter(submit_many(self.sdk.ledger, items, gate=gate) if items else [])
        if callers.answers is None:  # no valid submission reached the gate: check their callers anyway
            with self.sdk.ledger.session(write=False) as session:
                callers.settle(session)
        answers = callers.answers or []
        return [
            next(written) if isinstance(p, SubmitItem) else (a if isinstance(a, Exception) else p)
            for p, a in zip(prepared, answers, strict=True)
        ]

    def _item(self, s: Submission, actor: str, now: datetime) -> SubmitItem:
        """The checks and hashing of the facade's ``submit_request`` (the same rules as every channel)."""
        fields = validate_request_input(
            subject=s.subject,
            policy=s.policy,
            received_at=s.received_at,
            idempotency_key=s.idempotency_key,
            now=now,
        )
        policy = self.sdk.policy(fields.policy)
        key = self.sdk.subject_key
        return SubmitItem(
            subject_ref=subject_ref(fields.subject, key),
            policy=policy,
            received_at=fields.received_at,
            idempotency_key=(
                None if fields.idempotency_key is None else keyed_idempotency_key(key, fields.idempotency_key)
            ),
            actor=actor,
            verified=s.verified,
        )


class TokenChecker(GroupRunner[str, TokenRecord]):
    """Authenticates concurrent callers' bearer tokens in one read transaction per group.

    Args:
        sdk: the open deployment.
        max_batch: the most tokens per transaction.
    """

    def __init__(self, sdk: DeletionSDK, *, max_batch: int = MAX_BATCH) -> None:
        super().__init__(self.check, name="token-checker", max_batch=max_batch)
        self.sdk = sdk

    def check(self, tokens: Sequence[str]) -> list[TokenRecord | Exception]:
        """The live token record of each token text, or its AuthenticationError (runs in the thread)."""
        with self.sdk.ledger.session(write=False) as session:
            return authenticate_all(session, tokens)
