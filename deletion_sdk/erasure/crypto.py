"""The ``encrypted`` source store: examples sealed per person under ``HOME/vault``; erasure shreds the key.

``deletion-sdk datasets ingest`` (:func:`~deletion_sdk.erasure.crypto_ingest.ingest_dataset`) copies a
registered dataset into the vault, each example sealed with AES-256-GCM under its owner's data key
(:mod:`~deletion_sdk.erasure.crypto_keys`), and switches the dataset to this store. From then on:

* :meth:`EncryptedStore.open_bytes` unwraps the owner's key with the master key and decrypts in memory
  (the unwrapped keys live only in this object, never on disk);
* :meth:`EncryptedStore.erase` destroys each person's wrapped key first — one ledger transaction with a
  tombstone and a ``crypto.key_destroyed`` audit event — so every copy of their ciphertext, including
  backups made earlier, is unreadable from that moment; then it deletes their sealed files (and any other
  sealed copy of the same bytes), and the plaintext originals still in the dataset folder, if any;
* :meth:`EncryptedStore.verify_erased` checks both: no key left (and decryption actually fails), no sealed
  file and no original left.

Erasure is per person: destroying their key shreds their examples in every ingested dataset.

A vault file is named by ``SHA-256("deletion-sdk/vault/v1" | subject_ref | example_id | content_digest)``,
so no id or path appears in a file name, and the same example ingested with two datasets is one file.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
from collections.abc import Sequence
from datetime import datetime
from pathlib import Path

from deletion_sdk.erasure.crypto_keys import MasterKey, open_example, unwrap_data_key
from deletion_sdk.erasure.records import ArtifactKind, ErasedArtifact, StoredExample
from deletion_sdk.erasure.store import LocalFileStore, SourceStore, StoreContext, register_store
from deletion_sdk.errors import (
    ConfigurationError,
    DeletionSDKError,
    ErasureError,
    IntegrityError,
    NotFoundError,
    ShreddedDataError,
)
from deletion_sdk.layout import HomeLayout
from deletion_sdk.ledger import crypto as ledger_crypto
from deletion_sdk.ledger.db import Ledger

__all__ = [
    "ENCRYPTED_STORE",
    "EncryptedStore",
    "load_master_key",
    "next_master_key_path",
    "sealed_path",
    "vault_name",
]

ENCRYPTED_STORE = "encrypted"
_VAULT_DOMAIN = b"deletion-sdk/vault/v1\x00"


def vault_name(*, subject_ref: str, example_id: str, content_digest: str) -> str:
    """The vault file name of one sealed example (64 hex digits)."""
    h = hashlib.sha256(_VAULT_DOMAIN)
    for part in (subject_ref, example_id, content_digest):
        encoded = part.encode("utf-8")
        h.update(len(encoded).to_bytes(4, "big") + encoded)
    return h.hexdigest()


def sealed_path(vault: Path, file_name: str) -> Path:
    """Where the sealed file ``file_name`` lives under ``vault`` (fanned out by its first two digits)."""
    return vault / file_name[:2] / f"{file_name}.sealed"


def next_master_key_path(layout: HomeLayout) -> Path:
    """Where a rotation writes the new master key before the ledger is rewrapped."""
    return layout.master_key.with_name(layout.master_key.name + ".next")


def load_master_key(ledger: Ledger, layout: HomeLayout, *, given: str | None = None) -> MasterKey:
    """The master key: ``given`` (hex, from settings) or ``HOME/keys/master.key``.

    A key-file rotation interrupted after the ledger was rewrapped (the new key still in
    ``master.key.next``) is finished here.

    Raises:
        ConfigurationError: no master key, or one that is not the key the stored data keys are wrapped under.
    """
    with ledger.session(write=False) as session:
        wrapped = ledger_crypto.master_key_ids(session)
    if given is not None:
        master = MasterKey.from_hex(given)
    else:
        path, pending = layout.master_key, next_master_key_path(layout)
        if pending.exists() and wrapped and set(wrapped) == {MasterKey.load(pending).fingerprint}:
            os.replace(pending, path)  # the rewrapped ledger names the new key: finish the rotation
        if not path.exists():
            held = ", ".join(f"{n} under master key {k}" for k, n in sorted(wrapped.items()))
            raise ConfigurationError(
                f"no master key at {path} (and DELETION_SDK_MASTER_KEY is not set)"
                + (f"; the ledger holds data keys wrapped {held}: restore that key" if held else "")
            )
        master = MasterKey.load(path)
    others = sorted(k for k in wrapped if k != master.fingerprint)
    if others:
        raise ConfigurationError(
            f"the master key (fingerprint {master.fingerprint}) is not the one the ledger's data keys are "
            f"wrapped under ({', '.join(others)}); restore that master key or set DELETION_SDK_MASTER_KEY"
        )
    return master


@register_store
class EncryptedStore(SourceStore):
    """Examples sealed per person under ``HOME/vault``; erasure destroys the person's key (crypto-shred)."""

    name = ENCRYPTED_STORE
    description = "AES-256-GCM per person under HOME/vault; erasure destroys the person's key"

    def __init__(self, context: StoreContext, *, master_key: MasterKey | None = None) -> None:
        super().__init__(context)
        if context.ledger is None:
            raise ConfigurationError("the encrypted store needs the ledger (it holds the wrapped data keys)")
        self._ledger: Ledger = context.ledger
        self._layout = HomeLayout(context.home)
        self._master = master_key
        self._keys: dict[str, bytes] = {}  # unwrapped data keys: in memory, for this object's lifetime only

    @property
    def vault(self) -> Path:
        """The directory of sealed files."""
        return self._layout.vault

    def _master_key(self) -> MasterKey:
        if self._master is None:
            self._master = load_master_key(self._ledger, self._layout, given=self.context.master_key)
        return self._master

    def _data_key(self, example: StoredExample) -> bytes:
        ref = example.subject_ref
        cached = self._keys.get(ref)
        if cached is not None:
            return cached
        with self._ledger.session(write=False) as session:
            wrapped = ledger_crypto.data_keys(session, [ref]).get(ref)
            tomb = None if wrapped is not None else ledger_crypto.shredded_keys(session, [ref]).get(ref)
        if wrapped is None:
            if tomb is not None:
                raise ShreddedDataError(
                    f"example {example.example_id!r} was crypto-shredded: its owner's data key "
                    f"{tomb.key_digest[:16]} was destroyed at {tomb.destroyed_at.isoformat()}, so its "
                    "ciphertext can no longer be decrypted"
                )
            raise NotFoundError(
                f"example {example.example_id!r} has no data key: its dataset was not ingested "
                "(`deletion-sdk datasets ingest`)"
            )
        try:
            key = unwrap_data_key(
                self._master_key(), wrapped.wrapped, subject_ref=ref, wrapped_by=wrapped.master_key_id
            )
        except IntegrityError as e:
            raise IntegrityError(f"example {example.example_id!r}: {e}") from e
        self._keys[ref] = key
        return key

    def prefetch(self, examples: Sequence[StoredExample]) -> None:
        """Unwrap the data keys of these examples' owners in one ledger query (a loader's fast path).

        Owners without a key are left out; :meth:`open_bytes` then says why for each of their examples.
        """
        refs = sorted({e.subject_ref for e in examples} - set(self._keys))
        if not refs:
            return
        with self._ledger.session(write=False) as session:
            wrapped = ledger_crypto.data_keys(session, refs)
        master = self._master_key()
        for ref, w in wrapped.items():
            with contextlib.suppress(IntegrityError):  # open_bytes reports it, naming the example
                self._keys[ref] = unwrap_data_key(
                    master, w.wrapped, subject_ref=ref, wrapped_by=w.master_key_id
                )

    def open_bytes(self, example: StoredExample) -> bytes:
        """The example's plaintext, decrypted in memory.

        Raises:
            ShreddedDataError: the owner's key was destroyed (names the example).
            NotFoundError: the example was never ingested, or its sealed file is gone.
            IntegrityError: the sealed file was altered or swapped with another example's.
            ConfigurationError: the master key is missing or wrong.
        """
        key = self._data_key(example)
        name = vault_name(
            subject_ref=example.subject_ref,
            example_id=example.example_id,
            content_digest=example.content_digest,
        )
        try:
            sealed = sealed_path(self.vault, name).read_bytes()
        except FileNotFoundError:
            raise NotFoundError(
                f"example {example.example_id!r}: its sealed file is missing from the vault"
            ) from None
        return open_example(
            key,
            sealed,
            subject_ref=example.subject_ref,
            example_id=example.example_id,
            content_digest=example.content_digest,
        )

    def _originals(self) -> LocalFileStore:
        return LocalFileStore(StoreContext(root_dir=self.context.root_dir, home=self.context.home))

    def erase(self, examples: Sequence[StoredExample], *, now: datetime) -> list[ErasedArtifact]:
        """Destroy the people's keys, then delete their sealed files and any plaintext originals.

        Raises:
            ErasureError: a file could not be deleted (the keys are destroyed already: nothing is readable).
        """
        refs = sorted({e.subject_ref for e in examples})
        digests = sorted({e.content_digest for e in examples})
        with self._ledger.session() as session:
            destroyed = ledger_crypto.destroy_data_keys(session, refs, actor="erasure", now=now)
            sealed = ledger_crypto.sealed_examples(session, subject_refs=refs, content_digests=digests)
        ledger_crypto.scrub_sqlite(self._ledger)
        for ref in refs:
            self._keys.pop(ref, None)
        records = [
            ErasedArtifact(
                kind=ArtifactKind.SOURCE_KEY,
                digest=d.key_digest,
                erased_at=d.destroyed_at if d.already else now,
                detail="a person's data key (crypto-shredded)",
            )
            for d in destroyed
        ]
        for item in sealed:
            path = sealed_path(self.vault, item.file_name)
            try:
                path.unlink(missing_ok=True)
            except OSError as e:
                raise ErasureError(
                    f"cannot delete the sealed copy with digest {item.sealed_sha256[:12]}: {e.strerror or e} "
                    "(its key is destroyed already)"
                ) from e
            with contextlib.suppress(OSError):
                path.parent.rmdir()  # only when empty
            records.append(
                ErasedArtifact(
                    kind=ArtifactKind.SOURCE_FILE,
                    digest=item.sealed_sha256,
                    erased_at=now,
                    detail="an encrypted copy in the vault",
                )
            )
        with self._ledger.session() as session:
            ledger_crypto.delete_sealed(session, [s.file_name for s in sealed])
        if self.context.root_dir is not None:
            records.extend(self._originals().erase(examples, now=now))
        return sorted({(r.kind, r.digest): r for r in records}.values(), key=lambda r: (r.kind, r.digest))

    def verify_erased(self, examples: Sequence[StoredExample]) -> None:
        """Fail unless every person's key is gone, decryption fails, and no sealed file or original remains.

        Raises:
            ErasureError: what is still there, in counts (never ids).
        """
        refs = sorted({e.subject_ref for e in examples})
        digests = sorted({e.content_digest for e in examples})
        with self._ledger.session(write=False) as session:
            keys_left = ledger_crypto.data_keys(session, refs)
            sealed_left = ledger_crypto.sealed_examples(session, subject_refs=refs, content_digests=digests)
        problems: list[str] = []
        if keys_left:
            problems.append(f"{len(keys_left)} data key(s) not destroyed")
        if sealed_left:
            problems.append(f"{len(sealed_left)} sealed copy record(s) left")
        on_disk = sum(
            sealed_path(
                self.vault,
                vault_name(
                    subject_ref=e.subject_ref, example_id=e.example_id, content_digest=e.content_digest
                ),
            ).exists()
            for e in examples
        )
        if on_disk:
            problems.append(f"{on_disk} sealed file(s) still in the vault")
        self._keys.clear()
        readable = 0
        for example in examples:
            try:
                self.open_bytes(example)
            except DeletionSDKError:  # shredded, missing, or unreadable for another reason: all unreadable
                continue
            readable += 1
        if readable:
            problems.append(f"{readable} example(s) still decrypt")
        if problems:
            raise ErasureError("crypto-shredding incomplete: " + "; ".join(problems))
        if self.context.root_dir is not None:
            self._originals().verify_erased(examples)
