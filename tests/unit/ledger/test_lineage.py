from __future__ import annotations

import hashlib
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import rfc8785
import sqlalchemy as sa
from hypothesis import example, given
from hypothesis import strategies as st

from deletion_sdk.errors import (
    ConflictError,
    InputError,
    ManifestError,
    NotFoundError,
    SuppressedSubjectError,
)
from deletion_sdk.ledger import lineage, requests
from deletion_sdk.ledger.db import Ledger
from deletion_sdk.ledger.lineage import ExampleInput
from deletion_sdk.ledger.subjects import SubjectKey, subject_ref
from deletion_sdk.merkle import EMPTY_ROOT, merkle_root
from deletion_sdk.policy import Policy

NOW = datetime(2024, 6, 1, tzinfo=UTC)


def _snapshot(ledger: Ledger) -> dict[str, list[Any]]:
    with ledger.engine.connect() as conn:
        return {
            t: sorted(map(tuple, conn.execute(sa.text(f"SELECT * FROM {t}")).all()), key=repr)
            for t in ("subjects", "datasets", "examples", "suppressions")
        }


def _png(example_id: str) -> bytes:
    """A real 2x2 PNG whose pixels depend on ``example_id`` (registration decodes every file)."""
    from io import BytesIO

    from PIL import Image

    out = BytesIO()
    Image.new("RGB", (2, 2), tuple(hashlib.sha256(example_id.encode()).digest()[:3])).save(out, format="PNG")
    return out.getvalue()


def _write_dataset(root: Path, rows: list[tuple[str, str, str, str, str]], header: str = "") -> Path:
    (root / "img").mkdir(parents=True, exist_ok=True)
    lines = [header or "example_id,subject_id,path,age,split"]
    for example_id, subject, rel, age, split in rows:
        target = root / rel
        if not target.exists() and not rel.startswith("missing"):
            target.write_bytes(_png(example_id))
        lines.append(",".join((example_id, subject, rel, age, split)))
    manifest = root / "manifest.csv"
    manifest.write_text("\n".join(lines) + "\n")
    return manifest


ROWS = [
    ("ex-3", "alice@example.com", "img/3.png", "31", "train"),
    ("ex-1", "Alice@Example.com", "img/1.png", "31", "train"),
    ("ex-2", "bob@example.com", "img/2.png", "45.5", "train"),
    ("ex-4", "carol@example.com", "img/4.png", "60", "holdout"),
]


def _register(ledger: Ledger, key: SubjectKey, manifest: Path, name: str = "faces"):  # type: ignore[no-untyped-def]
    parsed = lineage.read_manifest(manifest, subject_key=key)
    return lineage.register_examples(
        ledger,
        name=name,
        records=parsed.examples,
        root_dir=parsed.root_dir,
        manifest_digest=parsed.digest,
        now=NOW,
    )


def test_register_from_manifest_records_digests_refs_and_root(
    ledger: Ledger, key: SubjectKey, tmp_path: Path
) -> None:
    manifest = _write_dataset(tmp_path, ROWS)
    record = _register(ledger, key, manifest)
    assert (record.name, record.n_examples, record.n_subjects) == ("faces", 4, 3)
    assert record.splits == {"holdout": 1, "train": 3}
    assert record.manifest_digest == hashlib.sha256(manifest.read_bytes()).hexdigest()
    digests = {e: hashlib.sha256(_png(e)).hexdigest() for e in ("ex-1", "ex-2", "ex-3", "ex-4")}
    expected_root = merkle_root([rfc8785.dumps([e, digests[e]]) for e in sorted(digests)]).hex()
    assert record.examples_root == expected_root
    with ledger.session(write=False) as session:
        assert lineage.get_dataset(session, "faces") == record
        assert lineage.get_dataset(session, record.dataset_id) == record
        stored = lineage.dataset_examples(session, dataset="faces")
        assert lineage.examples_root(session, dataset="faces") == expected_root
        assert lineage.examples_root(session, dataset="faces", split="train") != expected_root
    assert [e.example_id for e in stored] == ["ex-1", "ex-2", "ex-3", "ex-4"]
    assert {e.example_id: e.content_digest for e in stored} == digests
    alice = subject_ref("alice@example.com", key)
    assert [e.subject_ref for e in stored[:1]] == [alice] and stored[2].subject_ref == alice
    assert stored[1].age == 45.5 and stored[1].path == "img/2.png"


@pytest.mark.parametrize(
    ("rows", "header", "match"),
    [
        (ROWS, "example_id,subject_id,path,split", r"manifest.csv:1: missing column\(s\) age"),
        (
            [*ROWS, ("ex-2", "dave@example.com", "img/5.png", "20", "train")],
            "",
            r":6: duplicate example_id 'ex-2'",
        ),
        ([*ROWS[:2], ("ex-9", "dave@example.com", "img/9.png", "-3", "train")], "", r":4: age must be"),
        ([*ROWS[:1], ("ex-9", "dave@example.com", "img/9.png", "abc", "train")], "", r":3: age must be"),
        (
            [*ROWS[:1], ("ex-9", "dave@example.com", "img/9.png", "30", "validation")],
            "",
            r":3: split must be",
        ),
        (
            [*ROWS[:1], ("ex-9", "dave@example.com", "missing/9.png", "30", "train")],
            "",
            r":3: file not found: missing",
        ),
        ([*ROWS[:1], ("ex-9", "", "img/9.png", "30", "train")], "", r":3: empty subject_id"),
    ],
)
def test_bad_manifests_name_the_line_and_change_nothing(
    sqlite_url: str, key: SubjectKey, tmp_path: Path, rows: list[Any], header: str, match: str
) -> None:
    ledger = Ledger.open(sqlite_url, create=True)  # parsing is backend-independent
    try:
        manifest = _write_dataset(tmp_path, rows, header)
        before = _snapshot(ledger)
        with pytest.raises(ManifestError, match=match) as info:
            _register(ledger, key, manifest)
        assert "@example.com" not in str(info.value)
        assert _snapshot(ledger) == before
    finally:
        ledger.dispose()


def test_duplicate_dataset_name_is_a_conflict(ledger: Ledger, key: SubjectKey, tmp_path: Path) -> None:
    manifest = _write_dataset(tmp_path, ROWS)
    _register(ledger, key, manifest)
    before = _snapshot(ledger)
    with pytest.raises(ConflictError, match="already registered"):
        _register(ledger, key, manifest)
    assert _snapshot(ledger) == before


def test_suppressed_subjects_are_refused_with_counts_and_ids(
    ledger: Ledger, key: SubjectKey, tmp_path: Path
) -> None:
    alice = subject_ref("alice@example.com", key)
    with ledger.session() as session:
        entry = lineage.suppress(session, subject_ref=alice, reason="erased under gdpr-art17", now=NOW)
        assert lineage.suppress(session, subject_ref=alice, reason="again") == entry  # idempotent
        assert lineage.is_suppressed(session, alice)
        assert not lineage.is_suppressed(session, subject_ref("bob@example.com", key))
        assert lineage.list_suppressions(session) == (entry,)
    manifest = _write_dataset(tmp_path, ROWS)
    before = _snapshot(ledger)
    with pytest.raises(SuppressedSubjectError, match=r"2 example\(s\) of 1 erased subject\(s\).*ex-1, ex-3"):
        _register(ledger, key, manifest)
    assert _snapshot(ledger) == before


def _records(n_subjects: int, per_subject: int, key: SubjectKey) -> list[ExampleInput]:
    out = []
    for s in range(n_subjects):
        ref = subject_ref(f"person-{s}", key)
        for k in range(per_subject):
            eid = f"e{s:04d}-{k}"
            split = "holdout" if s % 5 == 4 else "train"
            out.append(ExampleInput(eid, ref, hashlib.sha256(eid.encode()).hexdigest(), 20.0 + s % 50, split))
    return out


def test_resolve_forget_set_by_requests(ledger: Ledger, key: SubjectKey, gdpr: Policy) -> None:
    lineage.register_examples(ledger, name="synthetic", records=_records(10, 3, key), now=NOW)
    ids = {}
    for who in ("person-1", "person-4", "nobody"):
        result = requests.submit(
            ledger, subject_ref=subject_ref(who, key), policy=gdpr, received_at=NOW, now=NOW
        )
        ids[who] = result.request.request_id
    with ledger.session(write=False) as session:
        forget = lineage.resolve_forget_set(session, request_ids=list(ids.values()), dataset="synthetic")
        train_only = lineage.resolve_forget_set(session, request_ids=list(ids.values()), split="train")
        by_ref = lineage.resolve_forget_set(session, subject_refs=[subject_ref("person-1", key)])
    assert forget.example_ids == ("e0001-0", "e0001-1", "e0001-2", "e0004-0", "e0004-1", "e0004-2")
    assert forget.count == 6 and forget.content_digests[0] == hashlib.sha256(b"e0001-0").hexdigest()
    leaves = [rfc8785.dumps([i, d]) for i, d in zip(forget.example_ids, forget.content_digests, strict=True)]
    assert forget.merkle_root == merkle_root(leaves).hex()
    assert forget.no_data_request_ids == (ids["nobody"],)
    assert forget.examples_per_request == {ids["person-1"]: 3, ids["person-4"]: 3, ids["nobody"]: 0}
    assert forget.request_ids == tuple(sorted(ids.values()))
    assert train_only.example_ids == forget.example_ids[:3]  # person-4 is a holdout subject
    assert set(train_only.no_data_request_ids) == {ids["nobody"], ids["person-4"]}
    assert by_ref.example_ids == forget.example_ids[:3] and by_ref.request_ids == ()
    assert forget.model_validate_json(forget.model_dump_json()) == forget


def test_resolve_forget_set_edge_cases(sqlite_url: str, key: SubjectKey) -> None:
    ledger = Ledger.open(sqlite_url, create=True)
    try:
        records = _records(3, 1, key)
        lineage.register_examples(ledger, name="a", records=records)
        lineage.register_examples(ledger, name="b", records=records)
        refs = [records[0].subject_ref]
        with ledger.session(write=False) as session:
            with pytest.raises(InputError, match="span datasets"):
                lineage.resolve_forget_set(session, subject_refs=refs)
            assert lineage.resolve_forget_set(session, subject_refs=refs, dataset="b").count == 1
            empty = lineage.resolve_forget_set(session, subject_refs=[], dataset="a")
            assert (empty.count, empty.merkle_root) == (0, EMPTY_ROOT.hex())
            with pytest.raises(NotFoundError, match="no deletion request"):
                lineage.resolve_forget_set(session, request_ids=["missing"])
            with pytest.raises(NotFoundError, match="no dataset"):
                lineage.resolve_forget_set(session, subject_refs=refs, dataset="zzz")
            with pytest.raises(InputError, match="exactly one"):
                lineage.resolve_forget_set(session)
            with pytest.raises(InputError, match="subject reference"):
                lineage.resolve_forget_set(session, subject_refs=["alice@example.com"])
    finally:
        ledger.dispose()


@pytest.mark.parametrize(
    ("bad", "match"),
    [
        (ExampleInput("", "a" * 64, "b" * 64, 1.0), "example_id"),
        (ExampleInput("x", "alice", "b" * 64, 1.0), "subject_ref"),
        (ExampleInput("x", "a" * 64, "nothex", 1.0), "content_digest"),
        (ExampleInput("x", "a" * 64, "b" * 64, float("nan")), "age"),
        (ExampleInput("x", "a" * 64, "b" * 64, 1.0, "val"), "split"),
    ],
)
def test_in_memory_records_are_validated(sqlite_url: str, bad: ExampleInput, match: str) -> None:
    ledger = Ledger.open(sqlite_url, create=True)
    try:
        good = ExampleInput("ok", "a" * 64, "b" * 64, 1.0)
        with pytest.raises(ManifestError, match=rf"record 2: {match}"):
            lineage.register_examples(ledger, name="x", records=[good, bad])
        with ledger.session(write=False) as session:
            assert lineage.list_datasets(session) == ()
    finally:
        ledger.dispose()


# Any text (no lone surrogates; those are the examples), with the characters JSON escapes mixed in often.
_ANY_TEXT = st.text(
    st.characters(exclude_categories=("Cs",)) | st.sampled_from('"\\\x00\x1f\x7f\n\u2028\U0001f600'),
    max_size=30,
)


@given(_ANY_TEXT, _ANY_TEXT | st.from_regex(r"[0-9a-f]{64}", fullmatch=True))
@example('quote"back\\slash\ttab', "")
@example("\ud800", "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08")
@example("ex-1", "\udfff")
def test_leaf_bytes_are_rfc8785_canonical_json(example_id: str, digest: str) -> None:
    try:
        expected = rfc8785.dumps([example_id, digest])
    except rfc8785.CanonicalizationError:  # lone surrogates have no canonical form; leaves refuse them too
        with pytest.raises(InputError, match="RFC 8785"):
            lineage.leaf_bytes(example_id, digest)
        return
    assert lineage.leaf_bytes(example_id, digest) == expected
    assert lineage.leaves_root([(example_id, digest)]) == merkle_root([expected]).hex()
