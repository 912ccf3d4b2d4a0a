"""``datasets import-utkface|import-folder`` and ``models register-external`` on the command line."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
import structlog

from tests.cli_run import run_in_home as run

from .conftest import UTKFolder


@pytest.fixture(autouse=True)
def _reset_logging() -> Iterator[None]:
    yield
    structlog.reset_defaults()


def test_import_utkface_and_bad_input(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, utk: UTKFolder
) -> None:
    home = tmp_path / "home"
    assert run(capsys, home, "init")[0] == 0
    (utk.root / "junk.jpg").write_bytes(b"x")
    code, out, err = run(
        capsys,
        home,
        "datasets",
        "import-utkface",
        str(utk.root),
        "--name",
        "faces",
        "--holdout",
        "0.25",
        "--json",
    )
    assert code == 0, err
    doc = json.loads(out)
    assert doc["dataset"]["n_examples"] == len(utk.files) and doc["dataset"]["n_subjects"] == len(utk.files)
    assert doc["skipped"] == [
        ["junk.jpg", "name does not match {age}_{gender}_{race}_{timestamp}.jpg[.chip.jpg]"]
    ]
    code, out, err = run(capsys, home, "datasets", "import-utkface", str(tmp_path / "nowhere"), "--name", "x")
    assert code == 2 and err.startswith("error: ") and len(err.strip().splitlines()) == 1
    code, _, err = run(
        capsys,
        home,
        "datasets",
        "import-folder",
        str(utk.root),
        "--name",
        "y",
        "--subjects",
        str(tmp_path / "no.csv"),
    )
    assert code == 2 and "does not exist" in err
    code, _, err = run(
        capsys,
        home,
        "datasets",
        "import-source",
        "nope",
        "--name",
        "z",
        "--out",
        str(tmp_path / "o"),
        "--option",
        "novalue",
    )
    assert code == 2 and "KEY=VALUE" in err
    code, _, err = run(
        capsys, home, "datasets", "import-source", "nope", "--name", "z", "--out", str(tmp_path / "o")
    )
    assert code == 2 and "Unknown dataset source 'nope'" in err


def test_register_external_refuses_unsafe_or_unfitting_weights(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    home = tmp_path / "home"
    assert run(capsys, home, "init")[0] == 0
    weights = tmp_path / "w.pt"
    weights.write_bytes(b"\x80\x04not a state dict")
    code, _, err = run(
        capsys,
        home,
        "models",
        "register-external",
        "--name",
        "m",
        "--arch",
        "torchvision:resnet18",
        "--weights",
        str(weights),
        "--image-size",
        "16",
    )
    assert code == 2 and "weights-only" in err and len(err.strip().splitlines()) == 1
    recipe = tmp_path / "recipe.json"
    recipe.write_text(
        '{"optimizer": "sgd", "lr": 0.1, "epochs": 1, "batch_size": 2, "image_size": 16, '
        '"augmentation": ["mixup"]}'
    )
    code, _, err = run(
        capsys,
        home,
        "models",
        "register-external",
        "--name",
        "m",
        "--arch",
        "torchvision:resnet18",
        "--weights",
        str(weights),
        "--recipe",
        str(recipe),
    )
    assert code == 2 and "augmentation" in err
    code, out, _ = run(capsys, home, "models", "list", "--json")
    assert json.loads(out) == []
