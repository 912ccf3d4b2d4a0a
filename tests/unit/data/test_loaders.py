from __future__ import annotations

import io
from pathlib import Path

import pytest
import torch
from hypothesis import given
from hypothesis import strategies as st

from deletion_sdk.data import (
    SynthFacesConfig,
    generate_faces,
    load_manifest,
    load_manifest_splits,
    load_utkface_folder,
    parse_utkface_age,
    write_faces,
)
from deletion_sdk.errors import ManifestError, NotFoundError
from deletion_sdk.logging import configure_logging


@pytest.fixture(scope="module")
def faces():  # type: ignore[no-untyped-def]
    return generate_faces(SynthFacesConfig(n_subjects=8, image_size=16, seed=11))


def _write_csv(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8")
    return path


def test_manifest_split_filter_and_grouping(tmp_path: Path, faces) -> None:  # type: ignore[no-untyped-def]
    split = {eid: ("holdout" if i < 5 else "train") for i, eid in enumerate(faces.data.example_ids)}
    written = write_faces(faces, tmp_path, split=split)
    holdout = load_manifest(written.manifest_path, split="holdout")
    assert holdout.example_ids == faces.data.example_ids[:5]
    parts = load_manifest_splits(written.manifest_path)
    assert sorted(parts) == ["holdout", "train"]
    assert len(parts["train"]) == len(faces) - 5
    assert torch.equal(parts["train"].images, faces.data.images[5:])


def test_manifest_resizes_to_requested_size(tmp_path: Path, faces) -> None:  # type: ignore[no-untyped-def]
    written = write_faces(faces, tmp_path)
    assert load_manifest(written.manifest_path, image_size=8).images.shape[-2:] == (8, 8)


def test_dataset_yields_image_label_index_and_restricts(tmp_path: Path, faces) -> None:  # type: ignore[no-untyped-def]
    data = load_manifest(write_faces(faces, tmp_path).manifest_path)
    image, label, index = data[3]
    assert image.dtype == torch.float32 and float(image.min()) >= 0 and float(image.max()) <= 1
    assert label == int(data.labels[3]) and index == 3
    wanted = {data.example_ids[1], data.example_ids[4]}
    sub = data.restrict(wanted)
    assert set(sub.example_ids) == wanted and len(sub) == 2


@pytest.mark.parametrize(
    ("body", "match"),
    [
        ("example_id,path,age\nx,a.png,3\n", "missing subject_id"),
        ("example_id,subject_id,path,age\nx,s,images/none.png,3\n", "line 2: cannot read image"),
        ("example_id,subject_id,path,age\nx,s,p.png,old\n", "line 2: 'age' must be a number"),
        ("example_id,subject_id,path,age\nx,s,p.png,-4\n", "line 2: 'age'"),
        ("example_id,subject_id,path,age\n,s,p.png,4\n", "line 2: example_id, subject_id and path"),
    ],
)
def test_malformed_manifest_raises_manifest_error(tmp_path: Path, body: str, match: str) -> None:
    with pytest.raises(ManifestError, match=match):
        load_manifest(_write_csv(tmp_path / "m.csv", body))


def test_duplicate_example_id_is_rejected(tmp_path: Path, faces) -> None:  # type: ignore[no-untyped-def]
    written = write_faces(faces, tmp_path)
    lines = written.manifest_path.read_text().splitlines()
    written.manifest_path.write_text("\n".join([*lines, lines[1]]) + "\n")
    with pytest.raises(ManifestError, match="duplicate example_id"):
        load_manifest(written.manifest_path)


def test_missing_manifest_is_not_found(tmp_path: Path) -> None:
    with pytest.raises(NotFoundError):
        load_manifest(tmp_path / "nope.csv")


def test_utkface_folder_parses_ages_and_reports_malformed(tmp_path: Path, faces) -> None:  # type: ignore[no-untyped-def]
    write_faces(faces, tmp_path, utkface_names=True)
    folder = tmp_path / "images"
    (folder / "notes.txt").write_text("hello")
    (folder / "abc_1_0_20170109.jpg.chip.jpg").write_bytes(b"")
    (folder / "130_1_0_20170109.jpg.chip.jpg").write_bytes(b"")
    (folder / "23_1_0_20170109999.jpg.chip.jpg").write_bytes(b"not a jpeg")
    stream = io.StringIO()
    configure_logging(json=True, stream=stream)
    result = load_utkface_folder(folder, image_size=16)
    assert result.n_files == len(faces) + 4
    assert len(result.data) == len(faces)
    assert result.malformed_count == 4
    assert any("notes.txt" in e for e in result.malformed_examples)
    assert any("not a readable image" in e for e in result.malformed_examples)
    assert any("age out of range" in e for e in result.malformed_examples)
    assert sorted(result.data.ages.long().tolist()) == sorted(faces.data.ages.long().tolist())
    log = stream.getvalue()
    assert "malformed files skipped" in log and '"count": 4' in log
    limited = load_utkface_folder(folder, image_size=16, max_examples=2)
    assert limited.malformed_count == 4 and len(limited.malformed_examples) == 2


def test_utkface_missing_folder(tmp_path: Path) -> None:
    with pytest.raises(NotFoundError):
        load_utkface_folder(tmp_path / "missing")


@given(
    age=st.integers(0, 116),
    gender=st.sampled_from(["0_", "1_", ""]),
    race=st.sampled_from(["0_", "4_", ""]),
    stamp=st.integers(0, 10**17),
    chip=st.booleans(),
)
def test_parse_utkface_age_accepts_valid_names(
    age: int, gender: str, race: str, stamp: int, chip: bool
) -> None:
    name = f"{age}_{gender}{race}{stamp}.jpg" + (".chip.jpg" if chip else "")
    assert parse_utkface_age(name) == age


@given(st.text(max_size=40))
def test_parse_utkface_age_never_crashes(name: str) -> None:
    result = parse_utkface_age(name)
    assert result is None or 0 <= result <= 120
