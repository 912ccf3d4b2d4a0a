"""Crypto-shredding end to end: CLI ingest, the batch job's erase path through the dataset's store, backups.

``datasets synth`` -> ``datasets register`` -> ``datasets ingest --delete-source``; a backup of HOME's vault
is taken; one person is erased the way the batch job's erase step does it (the dataset's store by name,
erase, verify, tombstones, erased-artifact records). Afterwards their sealed files and the backup's copies
cannot be decrypted with anything the deployment holds, no file under HOME or the data folder holds their
images, everyone else loads, and the audit log verifies and records the key's destruction.
"""

from __future__ import annotations

import csv
import hashlib
import json
import secrets
import shutil
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import structlog
from sqlmodel import select

from deletion_sdk import DeletionSDK
from deletion_sdk.cli.app import main
from deletion_sdk.erasure.crypto import ENCRYPTED_STORE, sealed_path, vault_name
from deletion_sdk.erasure.crypto_ingest import ingest_dataset, load_ingested
from deletion_sdk.erasure.crypto_keys import MasterKey, open_example, unwrap_data_key
from deletion_sdk.erasure.evidence import record_erased
from deletion_sdk.erasure.records import StoredExample
from deletion_sdk.erasure.store import StoreContext, create_store
from deletion_sdk.errors import DeletionSDKError, ShreddedDataError
from deletion_sdk.ledger import crypto as ledger_crypto
from deletion_sdk.ledger._types import utcnow
from deletion_sdk.ledger.core_tables import Dataset
from deletion_sdk.ledger.lineage import dataset_examples
from deletion_sdk.ledger.lineage.tombstones import tombstone_examples
from tests.integration.pipeline_workspace import MODEL, Workspace, copy


@pytest.fixture(autouse=True)
def _reset_logging() -> Iterator[None]:
    yield
    structlog.reset_defaults()


def cli(capsys: pytest.CaptureFixture[str], home: Path, *args: str) -> dict[str, object]:
    with pytest.raises(SystemExit) as info:
        main(["--home", str(home), *args, "--json"])
    out, err = capsys.readouterr()
    assert info.value.code == 0, err
    doc: dict[str, object] = json.loads(out)
    return doc


def test_a_shredded_person_is_unreadable_in_the_vault_and_in_backups_while_everyone_else_loads(
    capsys: pytest.CaptureFixture[str], home: Path, tmp_path: Path
) -> None:
    data = tmp_path / "data"
    cli(capsys, home, "datasets", "synth", "--out", str(data), "--subjects", "10", "--image-size", "16")
    with (data / "manifest.csv").open(newline="") as fh:
        manifest = list(csv.DictReader(fh))
    images = {row["example_id"]: (data / row["path"]).read_bytes() for row in manifest}
    cli(capsys, home, "datasets", "register", "--name", "faces", "--manifest", str(data / "manifest.csv"))
    ingested = cli(capsys, home, "datasets", "ingest", "faces", "--delete-source")
    assert ingested["n_sealed"] == len(manifest) and ingested["source_deleted"] is True
    backup = tmp_path / "backup"
    shutil.copytree(home / "vault", backup)

    person = manifest[0]["subject_id"]
    theirs = {row["example_id"] for row in manifest if row["subject_id"] == person}
    with DeletionSDK.open(home=home) as sdk:
        ref = sdk.subject_ref(subject=person)
        master = MasterKey.load(sdk.layout.master_key)
        # The batch job's erase step, as it runs it: the dataset's store by name, erase, verify, record.
        with sdk.ledger.session(write=False) as session:
            dataset = session.exec(select(Dataset).where(Dataset.name == "faces")).one()
            assert dataset.id is not None and dataset.store == ENCRYPTED_STORE and dataset.root_dir
            dataset_id = dataset.id
            examples = [
                StoredExample(
                    example_id=r.example_id,
                    subject_ref=r.subject_ref,
                    content_digest=r.content_digest,
                    path=r.path,
                )
                for r in dataset_examples(session, dataset=dataset_id)
                if r.subject_ref == ref
            ]
        store = create_store(
            dataset.store, StoreContext(root_dir=Path(dataset.root_dir), home=home, ledger=sdk.ledger)
        )
        artifacts = store.erase(examples, now=utcnow())
        store.verify_erased(examples)
        with sdk.ledger.session() as session:
            tombstone_examples(session, ((dataset_id, e.example_id, e.content_digest) for e in examples))
            record_erased(session, artifacts, job_id=None)
        with pytest.raises(ShreddedDataError, match=examples[0].example_id):
            store.open_bytes(examples[0])

        # No key the deployment holds opens the backup's copies of their examples.
        with sdk.ledger.session(write=False) as session:
            held = ledger_crypto.data_keys(
                session, {sdk.subject_ref(subject=r["subject_id"]) for r in manifest}
            )
        keys = [unwrap_data_key(master, k.wrapped, subject_ref=k.subject_ref) for k in held.values()]
        assert ref not in held and len(keys) == 9
        for e in examples:
            bind = {
                "subject_ref": e.subject_ref,
                "example_id": e.example_id,
                "content_digest": e.content_digest,
            }
            copy = sealed_path(backup, vault_name(**bind)).read_bytes()
            for key in keys:
                with pytest.raises(DeletionSDKError):
                    open_example(key, copy, **bind)

        # Everyone else loads; the erased person is left out (tombstoned), never an error mid-training.
        loaded = load_ingested(sdk.ledger, sdk.layout, dataset="faces", image_size=16)
        assert set(loaded.example_ids) == set(images) - theirs
        assert ref not in set(loaded.subject_ids or ())
        verification = sdk.verify_audit_log()
        assert verification.tree_size > 0
        kinds = [entry.event.type for entry in sdk.audit_log.entries()]
        assert kinds.count("crypto.key_destroyed") == 1 and kinds.count("dataset.ingested") == 1

    # No file under HOME or the data folder holds the person's images, in any form we can recognise.
    digests = {hashlib.sha256(images[e]).hexdigest() for e in theirs}
    for root in (home, data):
        for path in (p for p in root.rglob("*") if p.is_file()):
            raw = path.read_bytes()
            assert hashlib.sha256(raw).hexdigest() not in digests, path
            assert not any(images[e] in raw for e in theirs), path
            # HOME never holds a raw identifier (the operator's own manifest in the data folder does).
            assert root != home or person.encode() not in raw, path


@pytest.mark.parametrize("key_from", ["file", "environment"])
def test_a_batch_job_on_an_ingested_dataset_shreds_the_forgotten_and_keeps_everyone_else(
    sqlite_template: Workspace,
    tmp_path: Path,
    env_for: Callable[[Workspace], Workspace],
    monkeypatch: pytest.MonkeyPatch,
    key_from: str,
) -> None:
    ws = env_for(copy(sqlite_template, tmp_path))
    given = None
    if key_from == "environment":  # a secret manager's key: no key file under HOME, read by every step
        given = secrets.token_hex(32)
        monkeypatch.setenv("DELETION_SDK_MASTER_KEY", given)
    with DeletionSDK.open() as sdk:
        ingest_dataset(sdk.ledger, sdk.layout, dataset="faces", delete_source=True, master_key=given)
        assert sdk.layout.master_key.exists() == (given is None)
        refs = {sdk.subject_ref(subject=s) for s in ws.raw_subjects}
        result = sdk.run_batch(model=MODEL)
        assert result.status == "completed", result
        with sdk.ledger.session(write=False) as session:
            forgotten = set(ledger_crypto.shredded_keys(session, refs))
            held = set(ledger_crypto.data_keys(session, refs))
            sealed_left = ledger_crypto.sealed_examples(session, subject_refs=forgotten)
        # Every requested person with data had their key destroyed, with an audit event and an erased-artifact
        # record of kind source_key; none of their sealed files is left.
        assert forgotten and not held and sealed_left == []
        events = [e.event for e in sdk.audit_log.entries()]
        destroyed = {e.data["subject_ref"] for e in events if e.type == "crypto.key_destroyed"}
        assert destroyed == forgotten
        keys = [e for e in events if e.type == "artifact.erased" and e.data["kind"] == "source_key"]
        assert len(keys) == len(forgotten)
        # Everyone else still loads from the vault; the forgotten are left out.
        loaded = load_ingested(sdk.ledger, sdk.layout, dataset="faces", image_size=16, master_key=given)
        assert loaded.subject_ids and not set(loaded.subject_ids) & forgotten
