"""``deletion-sdk datasets ingest``: exit codes, one-line errors, the master key from HOME or the env."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
import structlog

from deletion_sdk.data import SynthFacesConfig, generate_faces, write_faces
from deletion_sdk.erasure.crypto_keys import MAGIC, MasterKey
from tests.cli_run import run_in_home as run


@pytest.fixture(autouse=True)
def _reset_logging() -> Iterator[None]:
    yield
    structlog.reset_defaults()


@pytest.fixture
def manifest(tmp_path: Path) -> Path:
    faces = generate_faces(SynthFacesConfig(n_subjects=3, images_per_subject=(1, 2), image_size=16, seed=1))
    return write_faces(faces, tmp_path / "data").manifest_path


def test_ingest_seals_the_dataset_and_deletes_the_originals_on_request(
    capsys: pytest.CaptureFixture[str], home: Path, manifest: Path
) -> None:
    assert run(capsys, home, "datasets", "register", "--name", "faces", "--manifest", str(manifest))[0] == 0
    images = sorted((manifest.parent / "images").rglob("*.png")) or sorted(manifest.parent.rglob("*.png"))
    code, out, err = run(capsys, home, "datasets", "ingest", "faces", "--delete-source", "--json")
    assert (code, err) == (0, "")
    doc = json.loads(out)
    assert doc["n_sealed"] == len(images) and doc["n_subjects"] == 3 and doc["n_keys_created"] == 3
    assert doc["master_key_created"] is True and doc["source_deleted"] is True
    assert not any(p.exists() for p in images)
    sealed = [p for p in (home / "vault").rglob("*") if p.is_file()]
    assert len(sealed) == len(images) and all(p.read_bytes().startswith(MAGIC) for p in sealed)
    assert MasterKey.load(home / "keys" / "master.key").fingerprint == doc["master_key_fingerprint"]

    code, out, err = run(capsys, home, "datasets", "ingest", "faces")
    assert code == 1 and out == "" and err.count("\n") == 1 and "in the vault already" in err


def test_a_missing_or_wrong_master_key_exits_2_with_one_line(
    capsys: pytest.CaptureFixture[str], home: Path, manifest: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    for name in ("a", "b"):
        assert run(capsys, home, "datasets", "register", "--name", name, "--manifest", str(manifest))[0] == 0
    assert run(capsys, home, "datasets", "ingest", "a")[0] == 0
    key_file = home / "keys" / "master.key"
    right = key_file.read_text().strip()
    key_file.unlink()
    code, out, err = run(capsys, home, "datasets", "ingest", "b")
    assert code == 2 and out == "" and err.count("\n") == 1
    assert err.startswith("error: no master key") and "restore that key" in err
    assert not key_file.exists()

    monkeypatch.setenv("DELETION_SDK_MASTER_KEY", MasterKey.generate().fingerprint * 4)
    code, _out, err = run(capsys, home, "datasets", "ingest", "b")
    assert code == 2 and "is not the one" in err and err.count("\n") == 1

    monkeypatch.setenv("DELETION_SDK_MASTER_KEY", right)
    code, out, err = run(capsys, home, "datasets", "ingest", "b", "--json")
    assert code == 0, err
    assert json.loads(out)["n_keys_created"] == 0  # the same people: their keys exist already


def test_rotate_master_key_replaces_the_key_file_and_keeps_the_data_readable(
    capsys: pytest.CaptureFixture[str], home: Path, manifest: Path, tmp_path: Path
) -> None:
    assert run(capsys, home, "datasets", "register", "--name", "faces", "--manifest", str(manifest))[0] == 0
    assert run(capsys, home, "datasets", "ingest", "faces")[0] == 0
    before = MasterKey.load(home / "keys" / "master.key").fingerprint
    code, out, err = run(capsys, home, "datasets", "rotate-master-key", "--json")
    assert code == 0, err
    doc = json.loads(out)
    assert doc["from_fingerprint"] == before and doc["n_keys"] == 3
    assert MasterKey.load(home / "keys" / "master.key").fingerprint == doc["to_fingerprint"] != before

    bad = tmp_path / "bad.key"
    bad.write_text("not a key\n")
    code, out, err = run(capsys, home, "datasets", "rotate-master-key", "--new-key-file", str(bad))
    assert code == 2 and out == "" and err.startswith("error: The master key must be 64 hex digits")
    assert MasterKey.load(home / "keys" / "master.key").fingerprint == doc["to_fingerprint"]
