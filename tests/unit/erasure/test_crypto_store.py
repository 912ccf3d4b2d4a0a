"""The encrypted store: ingest seals per person; erasure destroys the key so every copy turns unreadable.

Real SQLite files and a real PostgreSQL server, real AES-GCM keys, real PNG files; no mocks.
"""

from __future__ import annotations

import csv
import hashlib
import shutil
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import pytest
import sqlalchemy as sa
import torch

from deletion_sdk import DeletionSDK
from deletion_sdk.data import SynthFacesConfig, generate_faces, load_image, write_faces
from deletion_sdk.erasure.crypto import EncryptedStore, sealed_path, vault_name
from deletion_sdk.erasure.crypto_ingest import ingest_dataset, load_ingested
from deletion_sdk.erasure.crypto_keys import MAGIC, MasterKey, open_example, unwrap_data_key
from deletion_sdk.erasure.records import ArtifactKind, StoredExample
from deletion_sdk.erasure.store import StoreContext, create_store
from deletion_sdk.errors import (
    ConfigurationError,
    ConflictError,
    ErasureError,
    IntegrityError,
    ShreddedDataError,
)
from deletion_sdk.ledger import crypto as ledger_crypto
from deletion_sdk.ledger.lineage import ExampleInput, dataset_examples, suppress

NOW = datetime(2026, 1, 15, 12, 0, tzinfo=UTC)


@dataclass
class World:
    sdk: DeletionSDK
    data_dir: Path
    rows: list[ExampleInput]
    raw_ids: dict[str, str]  # example id -> raw subject id (test side only)

    @property
    def victim(self) -> str:
        return self.rows[0].subject_ref

    def of(self, ref: str) -> list[ExampleInput]:
        return [r for r in self.rows if r.subject_ref == ref]

    def others(self) -> list[ExampleInput]:
        return [r for r in self.rows if r.subject_ref != self.victim]

    def store(self) -> EncryptedStore:
        store = create_store(
            "encrypted",
            StoreContext(root_dir=self.data_dir, home=self.sdk.layout.home, ledger=self.sdk.ledger),
        )
        assert isinstance(store, EncryptedStore)
        return store

    def ingest(self, **kwargs: object) -> None:
        ingest_dataset(self.sdk.ledger, self.sdk.layout, dataset="faces", now=NOW, **kwargs)  # type: ignore[arg-type]

    def load(self, **kwargs: object) -> torch.Tensor:
        return load_ingested(
            self.sdk.ledger, self.sdk.layout, dataset="faces", image_size=16, **kwargs
        ).images  # type: ignore[arg-type]


def stored(rows: list[ExampleInput]) -> list[StoredExample]:
    return [
        StoredExample(
            example_id=r.example_id, subject_ref=r.subject_ref, content_digest=r.content_digest, path=r.path
        )
        for r in rows
    ]


def _world(tmp_path: Path, database_url: str | None) -> Iterator[World]:
    faces = generate_faces(SynthFacesConfig(n_subjects=4, images_per_subject=(2, 3), image_size=16, seed=3))
    written = write_faces(faces, tmp_path / "data")
    with written.manifest_path.open(newline="") as fh:
        raw_ids = {row["example_id"]: row["subject_id"] for row in csv.DictReader(fh)}
    sdk = DeletionSDK.open(home=tmp_path / "home", database_url=database_url)
    try:
        sdk.register_dataset(name="faces", manifest=written.manifest_path)
        with sdk.ledger.session(write=False) as session:
            rows = dataset_examples(session, dataset="faces")
        yield World(sdk, tmp_path / "data", rows, raw_ids)
    finally:
        sdk.close()


@pytest.fixture
def world(tmp_path: Path) -> Iterator[World]:
    """Four people's faces registered on a real SQLite ledger."""
    yield from _world(tmp_path, None)


@pytest.fixture
def any_world(tmp_path: Path, db_url: str) -> Iterator[World]:
    """The same, on SQLite and on the real PostgreSQL server."""
    yield from _world(tmp_path, None if db_url.startswith("sqlite") else db_url)


def _files(root: Path) -> list[Path]:
    return [p for p in root.rglob("*") if p.is_file()]


def test_after_shredding_the_vault_and_a_backup_made_before_are_unreadable_while_others_load(
    any_world: World, tmp_path: Path
) -> None:
    w = any_world
    w.ingest()
    backup = tmp_path / "backup-vault"
    shutil.copytree(w.sdk.layout.vault, backup)
    master = MasterKey.load(w.sdk.layout.master_key)

    artifacts = w.store().erase(stored(w.of(w.victim)), now=NOW)
    w.store().verify_erased(stored(w.of(w.victim)))

    # The person's key is gone from the ledger; the audit log records its digest, never the person.
    with w.sdk.ledger.session(write=False) as session:
        assert ledger_crypto.data_keys(session, [w.victim]) == {}
        remaining = ledger_crypto.data_keys(session, [r.subject_ref for r in w.rows])
        tomb = ledger_crypto.shredded_keys(session, [w.victim])[w.victim]
    keys = [a for a in artifacts if a.kind is ArtifactKind.SOURCE_KEY]
    assert [k.digest for k in keys] == [tomb.key_digest]
    events = [e.event for e in w.sdk.audit_log.entries() if e.event.type == "crypto.key_destroyed"]
    assert len(events) == 1 and events[0].data["key_digest"] == tomb.key_digest
    assert events[0].data["subject_ref"] == w.victim
    raw = w.raw_ids[w.of(w.victim)[0].example_id]
    assert raw not in str(events[0].model_dump())

    # Reading through the store names the example and says why; nothing decrypts the backup copies, with any
    # key the deployment still holds.
    victim_rows = w.of(w.victim)
    with pytest.raises(ShreddedDataError, match=victim_rows[0].example_id):
        w.store().open_bytes(stored(victim_rows)[0])
    live_keys = [
        unwrap_data_key(master, k.wrapped, subject_ref=k.subject_ref, wrapped_by=k.master_key_id)
        for k in remaining.values()
    ]
    assert len(live_keys) == 3
    for r in victim_rows:
        name = vault_name(subject_ref=r.subject_ref, example_id=r.example_id, content_digest=r.content_digest)
        assert not sealed_path(w.sdk.layout.vault, name).exists()
        copy = sealed_path(backup, name).read_bytes()
        for key in live_keys:
            with pytest.raises(IntegrityError):
                open_example(
                    key,
                    copy,
                    subject_ref=r.subject_ref,
                    example_id=r.example_id,
                    content_digest=r.content_digest,
                )

    # Everyone else still loads, pixel for pixel the registered images; the shredded person is left out.
    loaded = load_ingested(w.sdk.ledger, w.sdk.layout, dataset="faces", image_size=16)
    others = w.others()
    assert loaded.example_ids == tuple(r.example_id for r in others)
    expected = torch.stack(
        [
            torch.from_numpy(load_image(w.data_dir / str(r.path), image_size=16).copy()).permute(2, 0, 1)
            for r in others
        ]
    )
    assert torch.equal(loaded.images, expected)
    # Their backup copies also still open (the backup is only dead for the shredded person).
    r = others[0]
    name = vault_name(subject_ref=r.subject_ref, example_id=r.example_id, content_digest=r.content_digest)
    key = unwrap_data_key(master, remaining[r.subject_ref].wrapped, subject_ref=r.subject_ref)
    plain = open_example(
        key,
        sealed_path(backup, name).read_bytes(),
        subject_ref=r.subject_ref,
        example_id=r.example_id,
        content_digest=r.content_digest,
    )
    assert hashlib.sha256(plain).hexdigest() == r.content_digest


def test_no_plaintext_image_and_no_key_of_the_shredded_person_remains_under_home(world: World) -> None:
    w = world
    images = {r.example_id: (w.data_dir / str(r.path)).read_bytes() for r in w.rows}
    digests = {r.content_digest for r in w.rows}
    w.ingest(delete_source=True)
    home = w.sdk.layout.home

    def plaintext_hits() -> list[str]:
        hits = []
        for path in _files(home):
            data = path.read_bytes()
            if hashlib.sha256(data).hexdigest() in digests or any(img in data for img in images.values()):
                hits.append(str(path))
        return hits

    # After ingest: the originals are gone, each vault file is sealed and private, no plaintext copy anywhere.
    assert not any((w.data_dir / str(r.path)).exists() for r in w.rows)
    vault_files = _files(w.sdk.layout.vault)
    assert len(vault_files) == len(w.rows)
    assert all(p.read_bytes().startswith(MAGIC) and p.stat().st_mode & 0o077 == 0 for p in vault_files)
    assert plaintext_hits() == []
    assert w.load().shape == (len(w.rows), 3, 16, 16)

    # Capture what a dishonest operator would want to keep: the unwrapped key and its wrapped form.
    master = MasterKey.load(w.sdk.layout.master_key)
    with w.sdk.ledger.session(write=False) as session:
        wrapped = ledger_crypto.data_keys(session, [w.victim])[w.victim]
    data_key = unwrap_data_key(master, wrapped.wrapped, subject_ref=w.victim)
    with w.sdk.ledger.engine.connect() as conn:  # the wrapped key now sits in the database file itself
        conn.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)")
    assert wrapped.wrapped in w.sdk.layout.ledger_db.read_bytes()
    store = w.store()
    store.erase(stored(w.of(w.victim)), now=NOW)
    store.verify_erased(stored(w.of(w.victim)))

    # Neither the data key nor its wrapped bytes survive in any file under HOME: not in the database, not in a
    # free page, not in the write-ahead log.
    for path in _files(home):
        data = path.read_bytes()
        assert data_key not in data, path
        assert wrapped.wrapped not in data, path
    assert plaintext_hits() == []
    assert w.load().shape[0] == len(w.others())


def test_an_operator_who_deletes_files_but_keeps_the_key_does_not_pass_verification(world: World) -> None:
    w = world
    w.ingest()
    victim = stored(w.of(w.victim))
    for r in w.of(w.victim):  # the files go, the key stays
        name = vault_name(subject_ref=r.subject_ref, example_id=r.example_id, content_digest=r.content_digest)
        sealed_path(w.sdk.layout.vault, name).unlink()
        (w.data_dir / str(r.path)).unlink()
    with pytest.raises(ErasureError, match="data key"):
        w.store().verify_erased(victim)


def test_an_operator_who_destroys_the_key_but_keeps_the_files_does_not_pass_verification(
    world: World,
) -> None:
    w = world
    w.ingest()
    with w.sdk.ledger.session() as session:
        ledger_crypto.destroy_data_keys(session, [w.victim], actor="test", now=NOW)
    with pytest.raises(ErasureError, match="sealed"):
        w.store().verify_erased(stored(w.of(w.victim)))


def test_erasing_twice_reports_the_same_key_once_and_keeps_its_first_time(world: World) -> None:
    w = world
    w.ingest()
    first = w.store().erase(stored(w.of(w.victim)), now=NOW)
    later = datetime(2026, 2, 1, tzinfo=UTC)
    second = w.store().erase(stored(w.of(w.victim)), now=later)
    key_first = [a for a in first if a.kind is ArtifactKind.SOURCE_KEY]
    key_second = [a for a in second if a.kind is ArtifactKind.SOURCE_KEY]
    assert key_first == key_second and key_second[0].erased_at == NOW
    assert [e.event.type for e in w.sdk.audit_log.entries()].count("crypto.key_destroyed") == 1


def test_swapped_and_flipped_sealed_files_are_caught_naming_the_example(world: World) -> None:
    w = world
    w.ingest()
    a, b = w.rows[0], w.rows[-1]
    assert a.subject_ref != b.subject_ref
    same = w.of(a.subject_ref)[1]
    paths = {
        r.example_id: sealed_path(
            w.sdk.layout.vault,
            vault_name(subject_ref=r.subject_ref, example_id=r.example_id, content_digest=r.content_digest),
        )
        for r in (a, b, same)
    }
    original = {k: p.read_bytes() for k, p in paths.items()}
    for x, y in ((a, b), (a, same)):  # across people, and between one person's own examples
        paths[x.example_id].write_bytes(original[y.example_id])
        with pytest.raises(IntegrityError, match=x.example_id):
            w.load()
        paths[x.example_id].write_bytes(original[x.example_id])
    flipped = bytearray(original[a.example_id])
    flipped[len(flipped) // 2] ^= 0x40
    paths[a.example_id].write_bytes(bytes(flipped))
    with pytest.raises(IntegrityError, match=a.example_id):
        w.load()


def test_a_missing_or_wrong_master_key_is_a_clear_configuration_error(world: World) -> None:
    w = world
    w.ingest()
    master = MasterKey.load(w.sdk.layout.master_key)
    other = MasterKey.generate()
    with pytest.raises(ConfigurationError, match=f"not the one .*{master.fingerprint}"):
        w.load(master_key=other._key.hex())
    w.sdk.layout.master_key.unlink()
    with pytest.raises(ConfigurationError, match=f"no master key .*{master.fingerprint}"):
        w.load()
    # A lost master key is never silently replaced by a new one while data keys depend on it.
    manifest = w.data_dir / "manifest.csv"
    w.sdk.register_dataset(name="faces-again", manifest=manifest)
    with pytest.raises(ConfigurationError, match="no master key"):
        ingest_dataset(w.sdk.ledger, w.sdk.layout, dataset="faces-again")
    assert not w.sdk.layout.master_key.exists()


def test_ingest_skips_erased_people_refuses_twice_and_refuses_changed_files(world: World) -> None:
    w = world
    with w.sdk.ledger.session() as session:
        suppress(session, subject_ref=w.victim, reason="erased earlier", now=NOW)
    changed = w.others()[0]
    original = (w.data_dir / str(changed.path)).read_bytes()
    (w.data_dir / str(changed.path)).write_bytes(original + b"tampered")
    with pytest.raises(IntegrityError, match=changed.example_id):
        w.ingest()
    assert _files(w.sdk.layout.vault) == []  # a failed ingest leaves no sealed file behind
    (w.data_dir / str(changed.path)).write_bytes(original)

    result = ingest_dataset(w.sdk.ledger, w.sdk.layout, dataset="faces", now=NOW)
    assert result.n_skipped == len(w.of(w.victim))
    assert result.n_sealed == len(w.others()) and result.n_subjects == 3
    assert result.n_keys_created == 3
    with pytest.raises(ConflictError, match="in the vault already"):
        w.ingest()
    assert w.load().shape[0] == len(w.others())
    with w.sdk.ledger.session(write=False) as session:
        assert ledger_crypto.data_keys(session, [w.victim]) == {}


def test_the_encrypted_store_is_found_through_the_entry_point_group() -> None:
    # A fresh interpreter that never imported the module: the batch job finds the store by the dataset's name.
    code = (
        "import sys; from deletion_sdk.erasure.store import get_store; "
        "assert 'deletion_sdk.erasure.crypto' not in sys.modules; print(get_store('encrypted').__module__)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "deletion_sdk.erasure.crypto"


def test_wrapped_keys_swapped_between_people_in_the_ledger_are_caught(world: World) -> None:
    w = world
    w.ingest()
    a, b = w.rows[0], w.others()[0]
    with w.sdk.ledger.session() as session:
        keys = ledger_crypto.data_keys(session, [a.subject_ref, b.subject_ref])
        for ref, other in ((a.subject_ref, b.subject_ref), (b.subject_ref, a.subject_ref)):
            session.execute(
                sa.text("UPDATE subject_data_keys SET wrapped_key = :w WHERE subject_ref = :r"),
                {"w": keys[other].wrapped, "r": ref},
            )
    with pytest.raises(IntegrityError, match=f"example {a.example_id!r}.*altered or moved"):
        w.load()
