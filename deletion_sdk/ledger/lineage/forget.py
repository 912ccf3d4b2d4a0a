"""Forget sets: the examples owned by some requests' (or subjects') owners, as a Merkle-rooted manifest.

The manifest lists the examples sorted by ``example_id`` with their content digests, and its
``merkle_root`` is the root over their leaves (:mod:`~deletion_sdk.ledger.lineage.leaves`), so an
unlearning job, its certificate and an auditor can all name exactly the same set.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence

import sqlalchemy as sa
from sqlmodel import Session

from deletion_sdk.errors import InputError, NotFoundError
from deletion_sdk.ledger._types import table_of
from deletion_sdk.ledger.core_tables import DeletionRequest, Example
from deletion_sdk.ledger.erasure_tables import Tombstone
from deletion_sdk.ledger.lineage._sql import chunks
from deletion_sdk.ledger.lineage.datasets import dataset_row
from deletion_sdk.ledger.lineage.leaves import leaves_root
from deletion_sdk.ledger.lineage.manifest import SPLITS
from deletion_sdk.ledger.records import ForgetSetManifest
from deletion_sdk.ledger.subjects import validate_subject_ref

__all__ = ["resolve_forget_set"]

_RESOLVE_CHUNK = 5_000  # well under SQLite's 32,766 and PostgreSQL's 65,535 bound parameters


def _refs_of_requests(session: Session, request_ids: Sequence[str]) -> dict[str, list[str]]:
    """The requests' subjects: subject ref -> ids of its requests among ``request_ids``.

    Raises:
        NotFoundError: some request ids are unknown (the first ten are named).
    """
    wanted = sorted(set(request_ids))
    table = table_of(DeletionRequest)
    by_id = sa.select(table.c.id, table.c.subject_ref).where(
        table.c.id.in_(sa.bindparam("ids", expanding=True))
    )
    requests_by_ref: dict[str, list[str]] = {}
    for part in chunks(wanted, _RESOLVE_CHUNK):
        for request_id, ref in session.execute(by_id, {"ids": list(part)}):
            requests_by_ref.setdefault(ref, []).append(request_id)
    found = {rid for ids in requests_by_ref.values() for rid in ids}
    missing = [rid for rid in wanted if rid not in found]
    if missing:
        raise NotFoundError(
            f"no deletion request with id(s) {', '.join(missing[:10])}" + (" …" if len(missing) > 10 else "")
        )
    return requests_by_ref


def _matches(
    session: Session, refs: Sequence[str], *, dataset_id: int | None, split: str | None
) -> list[tuple[str, str, int, str]]:
    """The subjects' examples in scope as sorted ``(example_id, content_digest, dataset_id, subject_ref)``."""
    examples = table_of(Example)
    query = sa.select(
        examples.c.example_id, examples.c.content_digest, examples.c.dataset_id, examples.c.subject_ref
    ).where(examples.c.subject_ref.in_(sa.bindparam("refs", expanding=True)))
    if dataset_id is not None:
        query = query.where(examples.c.dataset_id == dataset_id)
    if split is not None:
        query = query.where(examples.c.split == split)
    stones = table_of(Tombstone)  # erased examples are gone: nothing left to forget
    query = query.where(
        ~sa.exists().where(
            stones.c.dataset_id == examples.c.dataset_id, stones.c.example_id == examples.c.example_id
        )
    )
    matches: list[tuple[str, str, int, str]] = []
    for part in chunks(refs, _RESOLVE_CHUNK):
        matches.extend(map(tuple, session.execute(query, {"refs": list(part)}).all()))  # type: ignore[arg-type]
    matches.sort()
    return matches


def resolve_forget_set(
    session: Session,
    *,
    request_ids: Sequence[str] | None = None,
    subject_refs: Sequence[str] | None = None,
    dataset: int | str | None = None,
    split: str | None = None,
) -> ForgetSetManifest:
    """The examples of some requests' (or subjects') owners, as a sorted manifest with a Merkle root.

    Args:
        session: an open session.
        request_ids: resolve these requests' subjects (exclusive with ``subject_refs``).
        subject_refs: resolve these subjects directly.
        dataset: restrict to one dataset (name or id). Without it, all datasets — an error if the matches
            span several, since example ids are only unique within a dataset.
        split: restrict to one split (e.g. ``train`` for a model's training data).

    Returns:
        The manifest; ``no_data_*`` lists what had no example in scope (such requests end as ``no_data``).

    Raises:
        InputError: both or neither of request_ids/subject_refs, a malformed subject ref, an unknown split,
            or unscoped matches spanning several datasets.
        NotFoundError: an unknown request id or dataset.
    """
    if (request_ids is None) == (subject_refs is None):
        raise InputError("resolve_forget_set needs exactly one of 'request_ids' or 'subject_refs'.")
    if split is not None and split not in SPLITS:
        raise InputError(
            f"The 'split' parameter must be one of {', '.join(SPLITS)} or None. Got {split!r} instead."
        )
    dataset_id = None if dataset is None else dataset_row(session, dataset).id
    requests_by_ref: dict[str, list[str]] = {}
    if request_ids is not None:
        requests_by_ref = _refs_of_requests(session, request_ids)
        refs = sorted(requests_by_ref)
    else:
        refs = sorted({validate_subject_ref(r, parameter="subject_refs") for r in subject_refs or ()})
    matches = _matches(session, refs, dataset_id=dataset_id, split=split)
    datasets = sorted({m[2] for m in matches})
    if dataset_id is None and len(datasets) > 1:
        raise InputError(
            f"the subjects' examples span datasets {datasets}; pass 'dataset' to choose the one to resolve in"
        )
    with_data = {m[3] for m in matches}
    per_ref = Counter(m[3] for m in matches)
    no_data_refs = tuple(r for r in refs if r not in with_data)
    examples_per_request = {rid: per_ref.get(ref, 0) for ref, ids in requests_by_ref.items() for rid in ids}
    return ForgetSetManifest(
        dataset_id=dataset_id if dataset_id is not None else (datasets[0] if datasets else None),
        split=split,
        request_ids=tuple(sorted(examples_per_request)),
        subject_refs=tuple(refs),
        example_ids=tuple(m[0] for m in matches),
        content_digests=tuple(m[1] for m in matches),
        count=len(matches),
        merkle_root=leaves_root((m[0], m[1]) for m in matches),
        examples_per_request=dict(sorted(examples_per_request.items())),
        no_data_request_ids=tuple(sorted(rid for rid, n in examples_per_request.items() if n == 0)),
        no_data_subject_refs=no_data_refs,
    )
