"""UTKFace folders, image folders with a subject map, and their registration with lineage guarantees."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest

from deletion_sdk.data.importers import scan_image_folder, scan_utkface
from deletion_sdk.errors import ConflictError, InputError, ManifestError, SuppressedSubjectError
from deletion_sdk.external.datasets import assign_split
from deletion_sdk.ledger import lineage
from deletion_sdk.sdk import DeletionSDK

from .conftest import UTKFolder, write_utkface


def test_utkface_ages_from_names_one_subject_per_image_and_bad_files_skipped(utk: UTKFolder) -> None:
    (utk.root / "not_a_face.jpg").write_bytes(b"x")  # name does not parse
    (utk.root / "33_0_1_20170000999.jpg.chip.jpg").write_bytes(b"not a jpeg")  # cannot be decoded
    scan = scan_utkface(utk.root)
    assert [e.path for e in scan.examples] == list(utk.files)
    assert all(e.subject_id == e.path for e in scan.examples)  # one person per image without a map
    assert all(e.age == float(e.path.split("_")[0]) for e in scan.examples)
    assert dict(scan.skipped).keys() == {"not_a_face.jpg", "33_0_1_20170000999.jpg.chip.jpg"}


def test_utkface_subject_map_owns_images_and_refuses_gaps(utk: UTKFolder, tmp_path: Path) -> None:
    scan = scan_utkface(utk.root, subjects_csv=utk.subjects_csv)
    assert {e.path: e.subject_id for e in scan.examples} == utk.owner
    assert {e.path: e.split for e in scan.examples} == utk.split
    lines = utk.subjects_csv.read_text().splitlines()
    partial = tmp_path / "partial.csv"
    partial.write_text("\n".join(lines[:-1]) + "\n")  # the last image has no owner
    with pytest.raises(ManifestError, match="has no subject_id"):
        scan_utkface(utk.root, subjects_csv=partial)
    extra = tmp_path / "extra.csv"
    extra.write_text("\n".join([*lines, "90_0_0_1.jpg.chip.jpg,ghost,train"]) + "\n")
    with pytest.raises(ManifestError, match="not images in the folder"):
        scan_utkface(utk.root, subjects_csv=extra)
    wrong_age = tmp_path / "age.csv"
    first = utk.files[0]
    wrong_age.write_text(f"path,subject_id,age\n{first},p,{float(first.split('_')[0]) + 1}\n")
    with pytest.raises(ManifestError, match="contradicts the file name"):
        scan_utkface(utk.root, subjects_csv=wrong_age)


def test_empty_folder_and_bad_map_are_one_clear_error(tmp_path: Path) -> None:
    (tmp_path / "empty").mkdir()
    with pytest.raises(ManifestError, match="no UTKFace-named image"):
        scan_utkface(tmp_path / "empty")
    bad = tmp_path / "bad.csv"
    bad.write_text("file,owner\na,b\n")
    with pytest.raises(ManifestError, match="path,subject_id"):
        scan_utkface(tmp_path / "empty", subjects_csv=bad)


def test_image_folder_ages_from_csv_or_parent_folder(tmp_path: Path) -> None:
    src = write_utkface(tmp_path / "src", n_subjects=2, per_subject=2)
    root = tmp_path / "folder"
    (root / "34").mkdir(parents=True)
    (root / "misc").mkdir()
    files = list(src.files)
    (root / "34" / "a.jpg").write_bytes((src.root / files[0]).read_bytes())
    (root / "34" / "b.jpg").write_bytes((src.root / files[1]).read_bytes())
    (root / "misc" / "c.png").write_bytes((src.root / files[2]).read_bytes())
    mapping = tmp_path / "map.csv"
    mapping.write_text("path,subject_id,age\n34/a.jpg,ann,\n34/b.jpg,ann,\nmisc/c.png,bob,61\n")
    scan = scan_image_folder(root, subjects_csv=mapping)
    assert {(e.path, e.subject_id, e.age) for e in scan.examples} == {
        ("34/a.jpg", "ann", 34.0),
        ("34/b.jpg", "ann", 34.0),
        ("misc/c.png", "bob", 61.0),
    }
    mapping.write_text("path,subject_id,age\n34/a.jpg,ann,\n34/b.jpg,ann,\nmisc/c.png,bob,\n")
    with pytest.raises(ManifestError, match=r"no age for 'misc/c\.png'"):
        scan_image_folder(root, subjects_csv=mapping)
    mapping.write_text("path,subject_id,age\n34/a.jpg,ann,\nmisc/c.png,bob,61\n")
    with pytest.raises(ManifestError, match="every image must have an owner"):
        scan_image_folder(root, subjects_csv=mapping)


def test_split_by_subject_is_deterministic_and_disjoint() -> None:
    refs = [f"{i:064x}" for i in range(400)]
    first = {r: assign_split(r, holdout=0.25, test=0.1) for r in refs}
    assert first == {r: assign_split(r, holdout=0.25, test=0.1) for r in refs}
    counts = {s: sum(v == s for v in first.values()) for s in ("train", "holdout", "test")}
    assert 60 <= counts["holdout"] <= 140 and 15 <= counts["test"] <= 70 and counts["train"] > 200


def test_import_registers_digests_and_refs_never_raw_ids(
    sdk: DeletionSDK, utk: UTKFolder, tmp_path: Path
) -> None:
    result = sdk.import_utkface(name="faces", directory=utk.root, subjects=utk.subjects_csv)
    d = result.dataset
    assert d.n_examples == len(utk.files) and d.n_subjects == len(set(utk.owner.values()))
    assert d.splits == {"holdout": 6, "train": 18}
    with sdk.ledger.session(write=False) as session:
        rows = {r.example_id: r for r in lineage.dataset_examples(session, dataset="faces")}
    ref = sdk.subject_ref(subject=utk.owner[utk.files[0]])
    assert rows[utk.files[0]].subject_ref == ref
    assert (
        rows[utk.files[0]].content_digest
        == hashlib.sha256((utk.root / utk.files[0]).read_bytes()).hexdigest()
    )
    db = sdk.settings.home / "ledger.db"
    raw = b"".join(p.read_bytes() for p in db.parent.glob("ledger.db*"))
    assert not any(person.encode() in raw for person in utk.owner.values())
    with pytest.raises(ConflictError):
        sdk.import_utkface(name="faces", directory=utk.root)
    with pytest.raises(InputError, match="holdout"):
        sdk.import_utkface(name="other", directory=utk.root, holdout=1.5)


def test_import_refuses_erased_people(sdk: DeletionSDK, utk: UTKFolder) -> None:
    sdk.import_utkface(name="faces", directory=utk.root, subjects=utk.subjects_csv)
    ref = sdk.subject_ref(subject=utk.owner[utk.files[0]])
    with sdk.ledger.session() as session:
        lineage.suppress(session, subject_ref=ref, request_id=None, reason="erased")
    with pytest.raises(SuppressedSubjectError):
        sdk.import_utkface(name="again", directory=utk.root, subjects=utk.subjects_csv)
    assert [d.name for d in sdk.list_datasets()] == ["faces"]
