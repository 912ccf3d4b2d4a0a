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

from deletion_sdk.errors import DeletionSDKError
from deletion_sdk.ledger._types import utcnow
from deletion_sdk.ledger.api_tokens import TokenRecord, authenticate
from deletion_sdk.ledger.intake import keyed_idempotency_key
from deletion_sdk.ledger.records import SubmitResult
from deletion_sdk.ledger.request_input import validate_request_input
from deletion_sdk.ledger.subjects import subject_ref
from deletion_sdk.ledger.submit_batch import Outcome, SubmitItem, submit_many
from deletion_sdk.sdk import DeletionSDK

__all__ = ["MAX_BATCH", "GroupRunner", "IntakeBatcher", "Submission", "TokenChecker"]

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


Authorize = Callable[[Sequence[str]], Sequence[TokenRecord | Exception]]
"""Checks bearer tokens (one outcome per token, in order): the caller's record, or the error to answer."""


class IntakeBatcher(GroupRunner[Submission, SubmitResult]):
    """Records concurrent submissions in shared transactions (group commit).

    Args:
        sdk: the open deployment.
        authorize: checks the group's bearer tokens before anything is recorded (the service's
            :func:`~deletion_sdk.service.auth.authorize`: authentication, scope, rate limit); a refused
            submission gets that error and is not recorded.
        max_batch: the most submissions per transaction.
    """

    def __init__(self, sdk: DeletionSDK, *, authorize: Authorize, max_batch: int = MAX_BATCH) -> None:
        super().__init__(self.write, name="intake-writer", max_batch=max_batch)
        self.sdk = sdk
        self.authorize = authorize

    async def submit(self, submission: Submission) -> SubmitResult:
        """Record ``submission`` with whatever else is waiting; return its result or raise its error.

        Raises:
            DeletionSDKError: this submission's own error (InputError, UnknownPolicyError, ConflictError).
        """
        return await self.run(submission)

    def write(self, submissions: Sequence[Submission]) -> list[Outcome]:
        """Check the tokens, then validate, pseudonymise and record ``submissions`` in one transaction (runs
        in the writer thread).

        Returns:
            One outcome per submission, in order (see :func:`~deletion_sdk.ledger.submit_batch.submit_many`).
        """
        callers = self.authorize([s.token for s in submissions])
        now = utcnow()
        outcomes: list[Outcome | None] = []
        items: list[SubmitItem] = []
        for s, caller in zip(submissions, callers, strict=True):
            if isinstance(caller, Exception):
                outcomes.append(caller)
                continue
            try:
                items.append(self._item(s, caller.actor, now))
                outcomes.append(None)
            except DeletionSDKError as e:
                outcomes.append(e)
        written = iter(submit_many(self.sdk.ledger, items) if items else [])
        return [next(written) if o is None else o for o in outcomes]

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
        answers: dict[str, TokenRecord | Exception] = {}
        with self.sdk.ledger.session(write=False) as session:
            for token in tokens:
                if token not in answers:
                    try:
                        answers[token] = authenticate(session, token)
                    except DeletionSDKError as e:
                        answers[token] = e
        return [answers[t] for t in tokens]
