"""Found 5 of the input review: a manifest cannot reach outside its dataset, hang registration, or smuggle in
a file that is not an image."""

from __future__ import annotations

import os
from io import BytesIO
from pathlib import Path

import pytest
from PIL import Image

from deletion_sdk.errors import ManifestError
from deletion_sdk.ledger import lineage
from deletion_sdk.ledger.lineage.example_files import MAX_EXAMPLE_BYTES
from deletion_sdk.ledger.subjects import SubjectKey

KEY = SubjectKey(bytes(range(32)))


def _png() -> bytes:
    out = BytesIO()
    Image.new("RGB", (2, 2), (10, 20, 30)).save(out, format="PNG")
    return out.getvalue()


@pytest.fixture
def dataset(tmp_path: Path) -> Path:
    """``tmp_path/data`` with one good image; ``tmp_path/secret.png`` lies outside it."""
    root = tmp_path / "data"
    (root / "img").mkdir(parents=True)
    (root / "img" / "ok.png").write_bytes(_png())
    (tmp_path / "secret.png").write_bytes(_png())
    return root


def _manifest(root: Path, *paths: str) -> Path:
    rows = ["example_id,subject_id,path,age", "ok,someone@example.com,img/ok.png,30"]
    rows += [f"x{i},person-{i},{p},30" for i, p in enumerate(paths)]
    manifest = root / "manifest.csv"
    manifest.write_text("\n".join(rows) + "\n")
    return manifest


def _refused(root: Path, path: str, match: str) -> None:
    with pytest.raises(ManifestError, match=match) as info:
        lineage.read_manifest(_manifest(root, path), subject_key=KEY)
    assert str(info.value).count("\n") == 0 and ":3: " in str(info.value)


def test_traversal_and_absolute_paths_are_refused(dataset: Path) -> None:
    _refused(dataset, "../secret.png", "leaves the dataset root")
    _refused(dataset, "img/../../secret.png", "leaves the dataset root")
    _refused(dataset, str(dataset.parent / "secret.png"), "must be relative")
    _refused(dataset, "/etc/passwd", "must be relative")


def test_a_symlink_out_of_the_root_is_refused_one_inside_is_followed(dataset: Path) -> None:
    (dataset / "img" / "out.png").symlink_to(dataset.parent / "secret.png")
    _refused(dataset, "img/out.png", "leaves the dataset root")
    (dataset / "img" / "zero.png").symlink_to("/dev/zero")
    _refused(dataset, "img/zero.png", "leaves the dataset root")
    (dataset / "img" / "alias.png").symlink_to(dataset / "img" / "ok.png")
    parsed = lineage.read_manifest(_manifest(dataset, "img/alias.png"), subject_key=KEY)
    assert [e.path for e in parsed.examples] == ["img/ok.png", "img/alias.png"]


def test_a_fifo_or_a_directory_is_refused_without_blocking(dataset: Path) -> None:
    os.mkfifo(dataset / "img" / "pipe.png")  # opening it for reading would block forever without a writer
    _refused(dataset, "img/pipe.png", "not a regular file")
    _refused(dataset, "img", "not a regular file")


def test_a_non_image_and_an_oversized_file_are_refused(dataset: Path) -> None:
    (dataset / "img" / "text.png").write_text("root:x:0:0:root:/root:/bin/bash\n")
    _refused(dataset, "img/text.png", "not a decodable image")
    (dataset / "img" / "truncated.png").write_bytes(_png()[:40])
    _refused(dataset, "img/truncated.png", "not a decodable image")
    with (dataset / "img" / "huge.png").open("wb") as fh:
        fh.truncate(MAX_EXAMPLE_BYTES + 1)  # sparse: refused from its size, never read
    _refused(dataset, "img/huge.png", "larger than")


def test_every_bad_line_is_counted_in_one_line(dataset: Path) -> None:
    manifest = _manifest(dataset, "../secret.png", "img/ok.png", "/etc/passwd", "missing.png")
    with pytest.raises(ManifestError) as info:
        lineage.read_manifest(manifest, subject_key=KEY)
    assert str(info.value) == (
        f"{manifest}:3: path leaves the dataset root: ../secret.png (and 2 more bad line(s): 5, 6)"
    )


def test_a_manifest_that_is_a_fifo_is_refused_without_blocking(tmp_path: Path) -> None:
    os.mkfifo(tmp_path / "manifest.csv")
    with pytest.raises(ManifestError, match="not a regular file"):
        lineage.read_manifest(tmp_path / "manifest.csv", subject_key=KEY)
