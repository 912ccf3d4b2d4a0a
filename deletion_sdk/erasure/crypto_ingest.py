"""Ingest a registered dataset into the vault (sealed per person), and load an ingested dataset back.

:func:`ingest_dataset` is ``deletion-sdk datasets ingest``: every example file is read once, checked against
its registered SHA-256, sealed under its owner's data key and written (atomically, mode 0600) to
``HOME/vault``; plaintext exists only in memory. Data keys are created for people who have none yet and
stored wrapped under the master key (created at ``HOME/keys/master.key`` on first use when neither a key
file nor ``DELETION_SDK_MASTER_KEY`` exists and no data key is stored). Examples of erased people
(suppressed subjects, destroyed keys, tombstoned examples) are skipped. The dataset is then read through
the ``encrypted`` store; ``delete_source`` removes the plaintext originals once every sealed copy has been
decrypted and checked.

:func:`load_ingested` reads an ingested dataset through that store, leaving out erased people and examples,
so a training run never sees a shredded example.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
from collections.abc import Sequence
from datetime import datetime
from pathlib import Path

import sqlalchemy as sa
from pydantic import BaseModel, ConfigDict
from sqlmodel import Session, col, select

from deletion_sdk.data.age_bins import AgeBins
from deletion_sdk.data.loaders import load_from_store
from deletion_sdk.data.tensors import FaceTensors
from deletion_sdk.erasure.crypto import (
    ENCRYPTED_STORE,
    EncryptedStore,
    load_master_key,
    sealed_path,
    vault_name,
)
from deletion_sdk.erasure.crypto_keys import (
    MasterKey,
    key_digest,
    new_data_key,
    seal_example,
    unwrap_data_key,
    wrap_data_key,
)
from deletion_sdk.erasure.records import StoredExample
from deletion_sdk.erasure.store import DEFAULT_STORE, StoreContext
from deletion_sdk.errors import (
    ConfigurationError,
    ConflictError,
    InputError,
    IntegrityError,
    ManifestError,
    NotFoundError,
)
from deletion_sdk.layout import HomeLayout
from deletion_sdk.ledger import crypto as ledger_crypto
from deletion_sdk.ledger._types import utcnow
from deletion_sdk.ledger.core_tables import Dataset
from deletion_sdk.ledger.db import Ledger
from deletion_sdk.ledger.erasure_tables import Tombstone
from deletion_sdk.ledger.lineage import ExampleInput, dataset_examples, list_suppressions
from deletion_sdk.ledger.lineage.datasets import dataset_row

__all__ = ["IngestResult", "ingest_dataset", "load_ingested"]


class IngestResult(BaseModel):
    """What :func:`ingest_dataset` did.

    Attributes:
        dataset_id: the dataset.
        dataset: its name.
        n_sealed: examples sealed into the vault.
        n_skipped: examples of erased people (or erased examples) left out.
        n_subjects: people whose examples were sealed.
        n_keys_created: data keys created now (the others existed from earlier ingests).
        master_key_fingerprint: fingerprint of the master key wrapping the data keys.
        master_key_created: whether the master key file was created by this call.
        vault: the vault directory.
        source_deleted: whether the plaintext originals were deleted.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    dataset_id: int
    dataset: str
    n_sealed: int
    n_skipped: int
    n_subjects: int
    n_keys_created: int
    master_key_fingerprint: str
    master_key_created: bool
    vault: str
    source_deleted: bool


def _erased(session: Session, dataset_id: int, rows: Sequence[ExampleInput]) -> set[str]:
    """Example ids of ``rows`` that belong to erased people or were erased themselves."""
    refs = {r.subject_ref for r in rows}
    gone = {s.subject_ref for s in list_suppressions(session)} & refs
    gone |= set(ledger_crypto.shredded_keys(session, refs))
    tombstoned = set(
        session.exec(select(Tombstone.example_id).where(col(Tombstone.dataset_id) == dataset_id)).all()
    )
    return {r.example_id for r in rows if r.subject_ref in gone or r.example_id in tombstoned}


def _master(ledger: Ledger, layout: HomeLayout, given: str | None) -> tuple[MasterKey, bool]:
    if given is None and not layout.master_key.exists():
        with ledger.session(write=False) as session:
            stored = ledger_crypto.master_key_ids(session)
        if not stored:
            try:
                return MasterKey.create(layout.master_key), True
            except ConfigurationError:  # another process created it a moment ago: use theirs
                pass
    return load_master_key(ledger, layout, given=given), False


def _stored(row: ExampleInput) -> StoredExample:
    return StoredExample(
        example_id=row.example_id,
        subject_ref=row.subject_ref,
        content_digest=row.content_digest,
        path=row.path,
    )


def _prepare_keys(
    ledger: Ledger, master: MasterKey, refs: Sequence[str]
) -> tuple[dict[str, tuple[bytes, str]], list[ledger_crypto.WrappedKey]]:
    """Every subject's (data key, key digest): stored ones unwrapped, missing ones made (not stored yet)."""
    with ledger.session(write=False) as session:
        stored = ledger_crypto.data_keys(session, refs)
    new: list[ledger_crypto.WrappedKey] = []
    plain: dict[str, tuple[bytes, str]] = {}
    for ref in refs:
        if ref in stored:
            w = stored[ref]
            key = unwrap_data_key(master, w.wrapped, subject_ref=ref, wrapped_by=w.master_key_id)
            plain[ref] = (key, w.key_digest)
            continue
        key = new_data_key()
        wrapped = wrap_data_key(master, key, subject_ref=ref)
        new.append(ledger_crypto.WrappedKey(ref, wrapped, key_digest(wrapped), master.fingerprint))
        plain[ref] = (key, key_digest(wrapped))
    return plain, new


def _seal_one(
    r: ExampleInput, root: Path, vault: Path, key: bytes, digest: str
) -> ledger_crypto.SealedExample:
    source = Path(str(r.path))
    source = source if source.is_absolute() else root / source
    try:
        plaintext = source.read_bytes()
    except OSError as e:
        raise ManifestError(f"example {r.example_id!r}: cannot read {r.path}: {e.strerror or e}") from e
    if hashlib.sha256(plaintext).hexdigest() != r.content_digest:
        raise IntegrityError(f"example {r.example_id!r}: {r.path} changed since registration")
    bind = {"subject_ref": r.subject_ref, "example_id": r.example_id, "content_digest": r.content_digest}
    sealed = seal_example(key, plaintext, **bind)
    name = vault_name(**bind)
    _write_private(sealed_path(vault, name), sealed)
    return ledger_crypto.SealedExample(
        name,
        r.subject_ref,
        r.example_id,
        r.content_digest,
        digest,
        hashlib.sha256(sealed).hexdigest(),
        len(sealed),
    )


def _write_private(path: Path, data: bytes) -> None:
    """Write ``data`` to a private (0600) temporary file beside ``path`` and rename it into place.

    Not fsync'ed one by one: :func:`_seal_all` flushes every file once, before the ledger records them.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            tmp.unlink()
        raise


def _seal_all(
    ledger: Ledger, rows: Sequence[ExampleInput], root: Path, vault: Path, keys: dict[str, tuple[bytes, str]]
) -> tuple[list[ledger_crypto.SealedExample], list[Path]]:
    """Seal every row into the vault; copies already there (same owner, id, bytes and key) are reused.

    Returns:
        The sealed copies, and the files this call wrote (to remove should the ingest fail).
    """
    names = {
        r.example_id: vault_name(
            subject_ref=r.subject_ref, example_id=r.example_id, content_digest=r.content_digest
        )
        for r in rows
    }
    with ledger.session(write=False) as session:
        existing = {s.file_name: s for s in ledger_crypto.sealed_examples(session, file_names=names.values())}
    out: list[ledger_crypto.SealedExample] = []
    written: list[Path] = []
    try:
        for r in rows:
            key, digest = keys[r.subject_ref]
            old = existing.get(names[r.example_id])
            if old is not None and old.key_digest == digest and sealed_path(vault, old.file_name).is_file():
                out.append(old)
                continue
            out.append(_seal_one(r, root, vault, key, digest))
            written.append(sealed_path(vault, out[-1].file_name))
        os.sync()  # one flush for every sealed file, before the ledger (and delete_source) relies on them
    except BaseException:
        _remove(written)
        raise
    return out, written


def _remove(paths: Sequence[Path]) -> None:
    """Delete files this ingest wrote (ciphertext only, but a failed ingest leaves nothing behind)."""
    for path in paths:
        with contextlib.suppress(OSError):
            path.unlink()


def ingest_dataset(
    ledger: Ledger,
    layout: HomeLayout,
    *,
    dataset: int | str,
    master_key: str | None = None,
    delete_source: bool = False,
    now: datetime | None = None,
) -> IngestResult:
    """Copy a registered dataset into the vault, sealed per person, and switch it to the encrypted store.

    Args:
        ledger: the ledger.
        layout: the deployment's HOME layout (vault and master-key paths).
        dataset: the dataset's name or id.
        master_key: the master key as hex (``DELETION_SDK_MASTER_KEY``); None reads or creates the key file.
        delete_source: delete the plaintext originals after every sealed copy decrypted correctly.
        now: the time recorded (tests pin it).

    Raises:
        NotFoundError: no such dataset.
        ConflictError: the dataset is in the vault already.
        InputError: the dataset was registered in memory (no files), or is kept by a store other than local.
        ManifestError / IntegrityError: a file is missing or changed since registration (nothing is kept).
        ConfigurationError: the master key is missing or not the one the stored keys are wrapped under.
    """
    stamp = now or utcnow()
    with ledger.session(write=False) as session:
        row = dataset_row(session, dataset)
        dataset_id, name, root_dir, store = int(row.id or 0), row.name, row.root_dir, row.store
        done = ledger_crypto.ingested_dataset(session, dataset_id)
        if done is not None:
            raise ConflictError(
                f"dataset {name!r} is in the vault already (ingested {done.ingested_at.isoformat()})"
            )
        rows = dataset_examples(session, dataset=dataset_id)
        skip = _erased(session, dataset_id, rows)
    if root_dir is None or any(r.path is None for r in rows):
        raise InputError(f"dataset {name!r} was registered in memory: it has no files to ingest")
    if store != DEFAULT_STORE:
        raise InputError(
            f"dataset {name!r} is kept by the {store!r} store; ingest copies files from the "
            f"{DEFAULT_STORE!r} store (the dataset's folder) only"
        )
    keep = [r for r in rows if r.example_id not in skip]
    master, created = _master(ledger, layout, master_key)
    refs = sorted({r.subject_ref for r in keep})
    keys, new_keys = _prepare_keys(ledger, master, refs)
    sealed, written = _seal_all(ledger, keep, Path(root_dir), layout.vault, keys)
    made = {k.subject_ref for k in new_keys}
    try:
        with ledger.session() as session:
            # Keys, sealed copies and the ingest record commit together: a crash leaves only unreferenced
            # ciphertext under keys that were never stored. A stored key destroyed while we were sealing
            # drops its person's copies.
            live = set(ledger_crypto.data_keys(session, refs)) | made
            lost = [s for s in sealed if s.subject_ref not in live]
            sealed = [s for s in sealed if s.subject_ref in live]
            ledger_crypto.add_data_keys(session, new_keys, now=stamp)
            ledger_crypto.record_ingest(
                session,
                dataset_id=dataset_id,
                sealed=sealed,
                n_skipped=len(skip) + len(lost),
                n_keys_created=len(new_keys),
                master_key_id=master.fingerprint,
                actor="ingest",
                now=stamp,
            )
            session.execute(
                sa.update(Dataset).where(col(Dataset.id) == dataset_id).values(store=ENCRYPTED_STORE)
            )
    except sa.exc.IntegrityError as e:
        _remove(written)
        raise ConflictError("another ingest stored data keys at the same time; run the ingest again") from e
    except BaseException:
        _remove(written)
        raise
    _remove([sealed_path(layout.vault, s.file_name) for s in lost])
    if delete_source:
        _delete_originals(ledger, layout, master, Path(root_dir), [r for r in keep if r.subject_ref in live])
    return IngestResult(
        dataset_id=dataset_id,
        dataset=name,
        n_sealed=len(sealed),
        n_skipped=len(skip) + len(lost),
        n_subjects=len({s.subject_ref for s in sealed}),
        n_keys_created=len(new_keys),
        master_key_fingerprint=master.fingerprint,
        master_key_created=created,
        vault=str(layout.vault),
        source_deleted=delete_source,
    )


def _delete_originals(
    ledger: Ledger, layout: HomeLayout, master: MasterKey, root: Path, rows: Sequence[ExampleInput]
) -> None:
    store = EncryptedStore(StoreContext(root_dir=root, home=layout.home, ledger=ledger), master_key=master)
    for r in rows:  # every sealed copy must decrypt to the registered bytes before any original goes
        store.open_bytes(_stored(r))
    for r in rows:
        source = Path(str(r.path))
        (source if source.is_absolute() else root / source).unlink(missing_ok=True)


def load_ingested(
    ledger: Ledger,
    layout: HomeLayout,
    *,
    dataset: int | str,
    split: str | None = None,
    master_key: str | None = None,
    image_size: int = 32,
    bins: AgeBins | None = None,
    workers: int = 1,
) -> FaceTensors:
    """An ingested dataset's images, decrypted in memory, without erased people or examples.

    Args:
        ledger: the ledger.
        layout: the deployment's HOME layout.
        dataset: the dataset's name or id.
        split: only this split (None: every example).
        master_key: the master key as hex; None reads ``HOME/keys/master.key``.
        image_size: every image is resized to this side.
        bins: age groups for the labels.
        workers: threads decrypting and decoding.

    Returns:
        The examples sorted by id; ``subject_ids`` holds subject references.

    Raises:
        NotFoundError: no such dataset, or it was never ingested; or a sealed file is missing.
        ShreddedDataError: an example's key was destroyed although it is not recorded as erased.
        IntegrityError: a sealed file was altered or swapped (names the example).
        ConfigurationError: the master key is missing or wrong.
    """
    with ledger.session(write=False) as session:
        row = dataset_row(session, dataset)
        dataset_id = int(row.id or 0)
        if ledger_crypto.ingested_dataset(session, dataset_id) is None:
            raise NotFoundError(f"dataset {row.name!r} was not ingested; run `deletion-sdk datasets ingest`")
        rows = dataset_examples(session, dataset=dataset_id, split=split)
        skip = _erased(session, dataset_id, rows)
        root = None if row.root_dir is None else Path(row.root_dir)
    keep = [r for r in rows if r.example_id not in skip]
    master = load_master_key(ledger, layout, given=master_key)
    store = EncryptedStore(StoreContext(root_dir=root, home=layout.home, ledger=ledger), master_key=master)
    store.prefetch([_stored(r) for r in keep])
    return load_from_store(
        keep, lambda r: store.open_bytes(_stored(r)), bins=bins, image_size=image_size, workers=workers
    )
