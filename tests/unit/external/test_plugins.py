"""A team's own architecture and data source, each installed through its entry-point group.

The fixture distribution in ``plugin_dist/`` is laid out as an installer lays it out (the package beside a
``<name>-<version>.dist-info`` with ``METADATA`` and ``entry_points.txt`` from its ``pyproject.toml``), so
``importlib.metadata`` finds it as it would after ``pip install``.
"""

from __future__ import annotations

import base64
import hashlib
import importlib
import io
import json
import shutil
import sys
import tomllib
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from deletion_sdk.data import AgeBins
from deletion_sdk.data.importers import available_dataset_sources, get_dataset_source
from deletion_sdk.errors import InputError, ManifestError, RegistryError
from deletion_sdk.external import LineageRecorder
from deletion_sdk.jobs.models import load_model_version
from deletion_sdk.ledger import lineage
from deletion_sdk.sdk import DeletionSDK
from deletion_sdk.training import architectures
from deletion_sdk.training.external import IMAGENET, TrainingRecipe

PLUGIN_SRC = Path(__file__).parent / "plugin_dist"


def _install(site: Path) -> None:
    project = tomllib.loads((PLUGIN_SRC / "pyproject.toml").read_text())["project"]
    shutil.copytree(PLUGIN_SRC / "team_plugins", site / "team_plugins")
    dist_info = site / f"{project['name'].replace('-', '_')}-{project['version']}.dist-info"
    dist_info.mkdir()
    (dist_info / "METADATA").write_text(
        f"Metadata-Version: 2.1\nName: {project['name']}\nVersion: {project['version']}\n"
    )
    lines = []
    for group, eps in project["entry-points"].items():
        lines.append(f"[{group}]")
        lines.extend(f"{name} = {target}" for name, target in eps.items())
    (dist_info / "entry_points.txt").write_text("\n".join(lines) + "\n")


@pytest.fixture
def plugin_site(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    architectures.available_architectures()  # the one lazy scan happened before the install
    site = tmp_path / "site"
    site.mkdir()
    _install(site)
    sys.path.insert(0, str(site))
    importlib.invalidate_caches()
    monkeypatch.setattr(architectures, "_entry_points_loaded", False)  # as in a fresh process
    try:
        yield site
    finally:
        sys.path.remove(str(site))
        if "team_tiny" in architectures._REGISTRY:
            architectures.unregister_architecture("team_tiny")
        for mod in [m for m in sys.modules if m.startswith("team_plugins")]:
            del sys.modules[mod]
        importlib.invalidate_caches()


def _png(seed: int, size: int = 8) -> bytes:
    pixels = np.random.default_rng(seed).integers(0, 256, (size, size, 3), dtype=np.uint8)
    buf = io.BytesIO()
    Image.fromarray(pixels).save(buf, format="PNG")
    return buf.getvalue()


def _export(path: Path, n_users: int = 6) -> Path:
    rows = [
        {
            "id": f"row-{u}-{k}",
            "user": f"user-{u}@corp",
            "age": 20 + 7 * u,
            "png_b64": base64.b64encode(_png(10 * u + k)).decode(),
            "split": "holdout" if u == 0 else "train",
        }
        for u in range(n_users)
        for k in range(2)
    ]
    path.write_text("\n".join(json.dumps(r) for r in rows) + "\n")
    return path


def test_dataset_source_plugin_imports_with_lineage_guarantees(
    plugin_site: Path, sdk: DeletionSDK, tmp_path: Path
) -> None:
    assert "team_rows" in available_dataset_sources()
    export = _export(tmp_path / "rows.jsonl")
    result = sdk.import_dataset_source(
        name="store", source="team_rows", out=tmp_path / "store-files", options={"path": str(export)}
    )
    assert (result.dataset.n_examples, result.dataset.n_subjects) == (12, 6)
    assert result.dataset.splits == {"holdout": 2, "train": 10}
    with sdk.ledger.session(write=False) as session:
        rows = lineage.dataset_examples(session, dataset="store")
    written = {r.example_id: (tmp_path / "store-files" / str(r.path)).read_bytes() for r in rows}
    assert all(hashlib.sha256(written[r.example_id]).hexdigest() == r.content_digest for r in rows)
    assert written["row-3-1"] == _png(31)
    assert {r.subject_ref for r in rows} == {sdk.subject_ref(subject=f"user-{u}@corp") for u in range(6)}
    # erased people are refused at the next import, as for any manifest
    with sdk.ledger.session() as session:
        lineage.suppress(session, subject_ref=sdk.subject_ref(subject="user-2@corp"), reason="erased")
    with pytest.raises(Exception, match="erased subject"):
        sdk.import_dataset_source(
            name="again", source="team_rows", out=tmp_path / "b", options={"path": str(export)}
        )
    with pytest.raises(RegistryError, match="Installed: team_rows"):
        get_dataset_source("no_such_source")
    with pytest.raises(RegistryError, match="options"):
        get_dataset_source("team_rows", table="x")
    broken = tmp_path / "broken.jsonl"
    broken.write_text(export.read_text().splitlines()[0] + "\n" + export.read_text().splitlines()[0] + "\n")
    with pytest.raises(ManifestError, match="given twice"):
        sdk.import_dataset_source(
            name="dup", source="team_rows", out=tmp_path / "c", options={"path": str(broken)}
        )


def test_architecture_plugin_registers_an_external_model(
    plugin_site: Path, sdk: DeletionSDK, tmp_path: Path
) -> None:
    assert "team_tiny" in architectures.available_architectures()
    export = _export(tmp_path / "rows.jsonl")
    sdk.import_dataset_source(
        name="store", source="team_rows", out=tmp_path / "files", options={"path": str(export)}
    )
    from team_plugins import TeamTinyNet  # the team's class, as its own loop would use it

    net = TeamTinyNet(num_classes=AgeBins().num_classes, image_size=8)
    weights = tmp_path / "tiny.pt"
    torch.save(net.state_dict(), weights)
    rec = LineageRecorder(dataset="store")
    rec.record([f"row-{u}-{k}" for u in range(1, 6) for k in range(2)])
    recipe = TrainingRecipe(
        optimizer="adamw", lr=1e-3, epochs=1, batch_size=4, image_size=8, normalisation=None
    )
    version = sdk.register_external_model(
        name="tiny",
        architecture="team_tiny",
        weights=weights,
        dataset="store",
        lineage=rec.lineage(),
        recipe=recipe,
    )
    loaded = load_model_version(version, layout=sdk.layout)
    assert loaded.metadata.train_config is not None and loaded.metadata.train_config.arch == "team_tiny"
    x = torch.rand(2, 3, 8, 8)
    assert torch.equal(loaded.model(x), net.eval()(x))
    with pytest.raises(InputError, match="normalises its own input"):  # an ImageNet recipe for it is wrong
        sdk.register_external_model(
            name="tiny",
            architecture="team_tiny",
            weights=weights,
            recipe=recipe.model_copy(update={"normalisation": IMAGENET}),
        )
