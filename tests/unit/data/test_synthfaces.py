from __future__ import annotations

import csv
from pathlib import Path

import pytest
import torch
from pydantic import ValidationError

from deletion_sdk.data import (
    AgeBins,
    SynthFacesConfig,
    generate_faces,
    load_manifest,
    parse_utkface_age,
    write_faces,
)


def _config(**kw: object) -> SynthFacesConfig:
    base: dict[str, object] = {"n_subjects": 12, "image_size": 16, "seed": 3}
    base.update(kw)
    return SynthFacesConfig.model_validate(base)


def test_same_seed_gives_identical_data_set() -> None:
    a, b = generate_faces(_config()), generate_faces(_config())
    assert torch.equal(a.data.images, b.data.images)
    assert torch.equal(a.data.ages, b.data.ages)
    assert a.data.example_ids == b.data.example_ids
    assert a.data.subject_ids == b.data.subject_ids
    assert all(torch.equal(a.traits[k], b.traits[k]) for k in a.traits)


def test_different_seed_gives_different_images() -> None:
    a, b = generate_faces(_config(seed=1)), generate_faces(_config(seed=2))
    assert a.data.example_ids != b.data.example_ids
    n = min(len(a), len(b))
    assert not torch.equal(a.data.images[:n], b.data.images[:n])


def test_shapes_counts_and_identifiers() -> None:
    faces = generate_faces(_config(images_per_subject=(2, 5)))
    data = faces.data
    n = len(data)
    assert data.images.shape == (n, 3, 16, 16) and data.images.dtype == torch.uint8
    counts = torch.bincount(faces.subject_index, minlength=12)
    assert int(counts.min()) >= 2 and int(counts.max()) <= 5
    assert len(set(data.example_ids)) == n
    assert data.subject_ids is not None
    assert all(sid.startswith("person-") and sid.endswith("@synth.example") for sid in data.subject_ids)
    # Example ids are opaque: they never embed the subject identifier.
    assert not any("person" in eid for eid in data.example_ids)
    assert torch.equal(data.labels, AgeBins().labels_for(data.ages))


def test_images_vary_within_a_subject_and_ages_stay_close() -> None:
    faces = generate_faces(_config(n_subjects=30, images_per_subject=(4, 4)))
    imgs = faces.data.images.float().view(30, 4, -1)
    assert float((imgs[:, 0] - imgs[:, 1]).abs().mean()) > 5  # pose, light, noise differ per image
    ages = faces.data.ages.view(30, 4)
    spread = ages.max(dim=1).values - ages.min(dim=1).values
    assert float(spread.max()) <= 0.5 * float(ages.mean()) + 4
    assert float(spread.max()) > 0  # per-image ages do vary


def test_children_and_elders_look_different() -> None:
    # Average images of the youngest and oldest tenth differ clearly (age drives visible cues).
    faces = generate_faces(_config(n_subjects=150, images_per_subject=(1, 1), image_size=32))
    order = torch.argsort(faces.data.ages)
    young = faces.data.images[order[:15]].float().mean(0)
    old = faces.data.images[order[-15:]].float().mean(0)
    assert float((young - old).abs().mean()) > 3


def test_young_skewed_distribution_is_skewed() -> None:
    faces = generate_faces(_config(n_subjects=400, images_per_subject=(1, 1)))
    ages = faces.data.ages
    assert float(ages.median()) < 35
    assert float((ages < 20).float().mean()) > float((ages >= 50).float().mean())
    uniform = generate_faces(_config(n_subjects=400, images_per_subject=(1, 1), age_distribution="uniform"))
    assert float(uniform.data.ages.median()) > float(ages.median())


def test_image_size_64_is_supported() -> None:
    faces = generate_faces(_config(n_subjects=2, image_size=64))
    assert faces.data.images.shape[-2:] == (64, 64)


@pytest.mark.parametrize(
    "kw",
    [
        {"images_per_subject": (3, 1)},
        {"images_per_subject": (0, 2)},
        {"n_subjects": 0},
        {"min_age": 50, "max_age": 40},
    ],
)
def test_invalid_config_is_rejected(kw: dict[str, object]) -> None:
    with pytest.raises(ValidationError):
        _config(**kw)


def test_write_png_manifest_round_trips_exactly(tmp_path: Path) -> None:
    faces = generate_faces(_config())
    written = write_faces(faces, tmp_path / "out")
    assert written.n_images == len(faces)
    with open(written.manifest_path, newline="") as f:
        rows = list(csv.DictReader(f))
    assert list(rows[0]) == ["example_id", "subject_id", "path", "age", "split"]
    assert {r["split"] for r in rows} == {"train"}
    loaded = load_manifest(written.manifest_path)
    assert torch.equal(loaded.images, faces.data.images)  # PNG is lossless
    assert loaded.example_ids == faces.data.example_ids
    assert loaded.subject_ids == faces.data.subject_ids
    assert torch.equal(loaded.labels, faces.data.labels)


def test_write_utkface_names_are_jpeg_and_parse_back(tmp_path: Path) -> None:
    faces = generate_faces(_config(n_subjects=4))
    split = {eid: ("train" if i % 2 else "holdout") for i, eid in enumerate(faces.data.example_ids)}
    written = write_faces(faces, tmp_path, utkface_names=True, split=split)
    files = sorted((tmp_path / "images").iterdir())
    assert len(files) == len(faces)
    assert all(p.name.endswith(".jpg.chip.jpg") and p.read_bytes()[:2] == b"\xff\xd8" for p in files)
    with open(written.manifest_path, newline="") as f:
        rows = list(csv.DictReader(f))
    assert [r["split"] for r in rows] == [split[eid] for eid in faces.data.example_ids]
    for row in rows:
        assert parse_utkface_age(Path(row["path"]).name) == int(row["age"])
    loaded = load_manifest(written.manifest_path)
    assert float((loaded.images.float() - faces.data.images.float()).abs().mean()) < 12  # lossy but close


def test_write_rejects_incomplete_split_mapping(tmp_path: Path) -> None:
    faces = generate_faces(_config(n_subjects=2))
    from deletion_sdk.errors import InputError

    with pytest.raises(InputError, match="split"):
        write_faces(faces, tmp_path, split={faces.data.example_ids[0]: "train"})
