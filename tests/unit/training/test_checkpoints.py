from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pytest
import torch

from deletion_sdk.data import AgeBins, FaceTensors
from deletion_sdk.errors import IntegrityError, NotFoundError
from deletion_sdk.merkle import merkle_root
from deletion_sdk.training import (
    CheckpointMetadata,
    TrainConfig,
    build_model,
    load_checkpoint,
    predict_logits,
    save_checkpoint,
    training_root,
)


@pytest.fixture
def model() -> torch.nn.Module:
    torch.manual_seed(0)
    m = build_model("tiny_cnn", num_classes=10, image_size=16)
    # Non-trivial batch-norm statistics, so buffers are exercised too.
    m.train()
    with torch.no_grad():
        m(torch.rand(8, 3, 16, 16))
    return m.eval()


@pytest.fixture
def meta() -> CheckpointMetadata:
    ids = [f"ex-{i}" for i in range(5)]
    return CheckpointMetadata(
        architecture="tiny_cnn",
        num_classes=10,
        image_size=16,
        train_config=TrainConfig(image_size=16, epochs=2),
        training_root=training_root(ids),
        n_training_examples=len(ids),
        age_bins=AgeBins(),
        extra={"note": "test"},
    )


def _data() -> FaceTensors:
    g = torch.Generator().manual_seed(1)
    images = torch.randint(0, 256, (6, 3, 16, 16), generator=g, dtype=torch.uint8)
    return FaceTensors(
        images=images,
        labels=torch.zeros(6, dtype=torch.long),
        ages=torch.ones(6),
        example_ids=tuple("abcdef"),
    )


def test_round_trip(tmp_path: Path, model: torch.nn.Module, meta: CheckpointMetadata) -> None:
    saved = save_checkpoint(model, tmp_path / "m.safetensors", metadata=meta)
    assert saved.digest == hashlib.sha256(saved.weights_path.read_bytes()).hexdigest()
    assert saved.metadata_path == tmp_path / "m.json"
    loaded = load_checkpoint(saved.weights_path, expected_digest=saved.digest)
    assert loaded.digest == saved.digest
    assert loaded.metadata == meta
    assert not loaded.model.training
    for (k, a), (k2, b) in zip(model.state_dict().items(), loaded.model.state_dict().items(), strict=True):
        assert k == k2 and torch.equal(a, b)
    assert torch.equal(predict_logits(model, _data()), predict_logits(loaded.model, _data()))
    # Loading through the JSON path works too, and nothing temporary is left behind.
    assert load_checkpoint(saved.metadata_path).digest == saved.digest
    assert sorted(p.name for p in tmp_path.iterdir()) == ["m.json", "m.safetensors"]


def test_directory_target_is_named_by_digest(
    tmp_path: Path, model: torch.nn.Module, meta: CheckpointMetadata
) -> None:
    saved = save_checkpoint(model, tmp_path / "models", metadata=meta)
    assert saved.weights_path.name == f"model-{saved.digest[:16]}.safetensors"
    again = save_checkpoint(model, tmp_path / "models", metadata=meta)
    assert again.digest == saved.digest  # same weights, same bytes


def test_metadata_file_records_digest_and_version(
    tmp_path: Path, model: torch.nn.Module, meta: CheckpointMetadata
) -> None:
    saved = save_checkpoint(model, tmp_path / "m.safetensors", metadata=meta)
    doc = json.loads(saved.metadata_path.read_text())
    assert doc["weights_sha256"] == saved.digest
    assert doc["metadata"]["architecture"] == "tiny_cnn"
    assert doc["metadata"]["train_config"]["epochs"] == 2
    assert doc["metadata"]["sdk_version"]


def test_one_changed_byte_fails_the_load(
    tmp_path: Path, model: torch.nn.Module, meta: CheckpointMetadata
) -> None:
    saved = save_checkpoint(model, tmp_path / "m.safetensors", metadata=meta)
    raw = bytearray(saved.weights_path.read_bytes())
    raw[len(raw) - 10] ^= 0x01  # inside the tensor data
    saved.weights_path.write_bytes(bytes(raw))
    with pytest.raises(IntegrityError, match="SHA-256"):
        load_checkpoint(saved.weights_path)


def test_expected_digest_mismatch(tmp_path: Path, model: torch.nn.Module, meta: CheckpointMetadata) -> None:
    saved = save_checkpoint(model, tmp_path / "m.safetensors", metadata=meta)
    with pytest.raises(IntegrityError, match="was expected"):
        load_checkpoint(saved.weights_path, expected_digest="0" * 64)


def test_swapped_weights_with_forged_metadata_still_checked(
    tmp_path: Path, model: torch.nn.Module, meta: CheckpointMetadata
) -> None:
    a = save_checkpoint(model, tmp_path / "a.safetensors", metadata=meta)
    torch.manual_seed(5)
    other = build_model("tiny_cnn", num_classes=10, image_size=16)
    b = save_checkpoint(other, tmp_path / "b.safetensors", metadata=meta)
    b.weights_path.replace(a.weights_path)
    with pytest.raises(IntegrityError):
        load_checkpoint(a.weights_path)


def test_malformed_metadata_and_missing_files(
    tmp_path: Path, model: torch.nn.Module, meta: CheckpointMetadata
) -> None:
    saved = save_checkpoint(model, tmp_path / "m.safetensors", metadata=meta)
    saved.metadata_path.write_text("{not json")
    with pytest.raises(IntegrityError, match="malformed"):
        load_checkpoint(saved.weights_path)
    saved.metadata_path.unlink()
    with pytest.raises(NotFoundError):
        load_checkpoint(saved.weights_path)


def test_weights_that_do_not_fit_the_architecture(
    tmp_path: Path, model: torch.nn.Module, meta: CheckpointMetadata
) -> None:
    wrong = meta.model_copy(update={"num_classes": 5})
    saved = save_checkpoint(model, tmp_path / "m.safetensors", metadata=wrong)
    with pytest.raises(IntegrityError, match="do not fit"):
        load_checkpoint(saved.weights_path)


def test_weights_file_is_safetensors_not_pickle(
    tmp_path: Path, model: torch.nn.Module, meta: CheckpointMetadata
) -> None:
    saved = save_checkpoint(model, tmp_path / "m.safetensors", metadata=meta)
    raw = saved.weights_path.read_bytes()
    header_len = int.from_bytes(raw[:8], "little")
    header = json.loads(raw[8 : 8 + header_len])
    assert header["__metadata__"]["format"] == "deletion-sdk-checkpoint/v1"
    assert not raw.startswith(b"\x80") and b"PK\x03\x04" not in raw[:4]  # neither pickle nor torch zip


def test_training_root_is_merkle_root_of_sorted_ids() -> None:
    ids = ["b", "a", "c"]
    assert training_root(ids) == merkle_root([b"a", b"b", b"c"]).hex()
    assert training_root(ids) == training_root(reversed(ids))
    assert training_root(["a", "b"]) != training_root(["a", "b", "c"])
