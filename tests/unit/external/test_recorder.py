"""The LineageRecorder of a team's own loop, and its file."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch

from deletion_sdk.errors import ConfigurationError, InputError, ManifestError
from deletion_sdk.external import LineageRecorder, load_lineage
from deletion_sdk.external.recorder import batch_example_ids
from deletion_sdk.training import training_root


def test_records_every_id_once_with_its_root_and_round_trips(tmp_path: Path) -> None:
    rec = LineageRecorder(dataset="faces")
    for _ in range(2):
        rec.record(["b", "a"])
        rec.on_batch((torch.zeros(1), torch.zeros(1), ["c"]))
        rec.end_epoch()
    got = rec.lineage()
    assert got.example_ids == ("a", "b", "c") and got.ids_root == training_root(["a", "b", "c"])
    assert (got.steps, got.exposures, got.epochs, got.dataset) == (4, 6, 2, "faces")
    path = rec.save(tmp_path / "lineage.json")
    assert load_lineage(path) == got


def test_an_edited_lineage_file_is_refused(tmp_path: Path) -> None:
    rec = LineageRecorder()
    rec.record(["a", "b"])
    path = rec.save(tmp_path / "l.json")
    doc = json.loads(path.read_text())
    doc["example_ids"] = ["a"]  # someone drops an example from the record
    path.write_text(json.dumps(doc))
    with pytest.raises(ManifestError, match="ids_root"):
        load_lineage(path)
    path.write_text("{")
    with pytest.raises(ManifestError, match="not JSON"):
        load_lineage(path)


def test_bad_batches_and_an_empty_record_are_errors() -> None:
    rec = LineageRecorder()
    with pytest.raises(InputError, match="recorded no batch"):
        rec.lineage()
    with pytest.raises(InputError):
        rec.record("abc")
    with pytest.raises(InputError):
        rec.record([])
    assert batch_example_ids({"example_id": ["x"], "image": None}) == ["x"]
    assert batch_example_ids((None, torch.tensor([3, 4]))) == ["3", "4"]
    with pytest.raises(InputError):
        batch_example_ids((None, "x"))


def test_lightning_callback_without_lightning_names_the_fix() -> None:
    pytest.importorskip("torch")
    try:
        import lightning  # noqa: F401
    except ImportError:
        with pytest.raises(ConfigurationError, match="pip install lightning"):
            LineageRecorder().lightning_callback()
    else:  # pragma: no cover - only where Lightning is installed
        cb = LineageRecorder().lightning_callback()
        assert hasattr(cb, "on_train_batch_end")
