"""The local source store and the store registry: erase really deletes, refuses what it must, and says why."""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime
from pathlib import Path

import pytest

from deletion_sdk import _plugins as plugins
from deletion_sdk.erasure import store as stores
from deletion_sdk.erasure.records import ArtifactKind, ErasedArtifact, StoredExample
from deletion_sdk.erasure.store import LocalFileStore, SourceStore, StoreContext, create_store
from deletion_sdk.errors import ErasureError, IntegrityError, NotFoundError, RegistryError

NOW = datetime(2026, 1, 15, 12, 0, tzinfo=UTC)
REF = "a" * 64


def _example(root: Path, name: str, data: bytes) -> StoredExample:
    (root / name).parent.mkdir(parents=True, exist_ok=True)
    (root / name).write_bytes(data)
    return StoredExample(
        example_id=name, subject_ref=REF, content_digest=hashlib.sha256(data).hexdigest(), path=name
    )


def _store(root: Path) -> SourceStore:
    return create_store("local", StoreContext(root_dir=root, home=root.parent / "home"))


def test_erase_deletes_listed_files_and_renamed_copies_and_verifies(tmp_path: Path) -> None:
    root = tmp_path / "data"
    a = _example(root, "img/a.jpg", b"alpha bytes")
    keep = _example(root, "img/keep.jpg", b"someone else")
    (root / "elsewhere").mkdir()
    (root / "elsewhere" / "copy-of-a.bin").write_bytes(b"alpha bytes")  # same bytes, another name
    store = _store(root)
    assert store.open_bytes(a) == b"alpha bytes"
    records = store.erase([a], now=NOW)
    assert records == [ErasedArtifact(kind=ArtifactKind.SOURCE_FILE, digest=a.content_digest, erased_at=NOW)]
    assert not (root / "img/a.jpg").exists() and not (root / "elsewhere" / "copy-of-a.bin").exists()
    assert (root / "img/keep.jpg").exists()
    store.verify_erased([a])
    with pytest.raises(NotFoundError):
        store.open_bytes(a)
    # erasing again (a resumed job) reports the same artifact and changes nothing
    assert store.erase([a], now=NOW) == records
    assert store.open_bytes(keep) == b"someone else"


def test_a_file_that_cannot_be_deleted_fails_with_the_reason(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    root = tmp_path / "data"
    a = _example(root, "locked/a.jpg", b"alpha")
    b = _example(root, "b.jpg", b"beta")
    locked = root / "locked" / "a.jpg"
    real_unlink = Path.unlink

    def unlink(self: Path, missing_ok: bool = False) -> None:  # the OS refusing, as on a read-only mount
        if self == locked:
            raise PermissionError(13, "Permission denied")
        real_unlink(self, missing_ok=missing_ok)

    monkeypatch.setattr(Path, "unlink", unlink)
    with pytest.raises(ErasureError, match=r"cannot delete the source file .*Permission denied"):
        _store(root).erase([b, a], now=NOW)
    assert locked.exists()
    with pytest.raises(ErasureError, match="1 erased source file"):
        _store(root).verify_erased([a, b])


def test_a_file_replaced_since_registration_is_not_deleted_blindly(tmp_path: Path) -> None:
    root = tmp_path / "data"
    a = _example(root, "a.jpg", b"alpha")
    (root / "a.jpg").write_bytes(b"other bytes now")
    with pytest.raises(ErasureError, match="other bytes"):
        _store(root).erase([a], now=NOW)
    assert (root / "a.jpg").exists()
    with pytest.raises(IntegrityError):
        _store(root).open_bytes(a)


def test_a_symlink_in_place_of_a_file_is_refused(tmp_path: Path) -> None:
    root = tmp_path / "data"
    outside = tmp_path / "outside.jpg"
    outside.write_bytes(b"alpha")
    root.mkdir()
    (root / "a.jpg").symlink_to(outside)
    a = StoredExample(
        example_id="a", subject_ref=REF, content_digest=hashlib.sha256(b"alpha").hexdigest(), path="a.jpg"
    )
    with pytest.raises(ErasureError, match="not a regular file"):
        _store(root).erase([a], now=NOW)
    assert outside.exists()


def test_erased_artifact_never_carries_a_path_or_a_naive_time() -> None:
    with pytest.raises(ValueError, match="path"):
        ErasedArtifact(kind=ArtifactKind.SOURCE_FILE, digest="b" * 64, erased_at=NOW, detail="img/alice.jpg")
    with pytest.raises(ValueError, match="timezone"):
        ErasedArtifact(kind=ArtifactKind.SOURCE_FILE, digest="b" * 64, erased_at=datetime(2026, 1, 1))
    with pytest.raises(ValueError, match="hex"):
        ErasedArtifact(kind=ArtifactKind.SOURCE_FILE, digest="z" * 64, erased_at=NOW)


def test_registry_lists_builtin_refuses_unknown_and_duplicates() -> None:
    assert "local" in stores.list_stores()
    assert stores.get_store("local") is LocalFileStore
    with pytest.raises(RegistryError, match="local"):
        stores.get_store("nope")

    class Other(LocalFileStore):
        name = "local"

    with pytest.raises(RegistryError, match="already registered"):
        stores.register_store(Other)
    with pytest.raises(RegistryError):
        stores.register_store(int)  # type: ignore[arg-type]


def test_entry_point_plugins_load_and_broken_ones_are_skipped(monkeypatch: pytest.MonkeyPatch) -> None:
    class Plugged(LocalFileStore):
        name = "plugged_store"

    class _EP:
        def __init__(self, name: str, target: object) -> None:
            self.name, self._target, self.dist = name, target, None

        def load(self) -> object:
            if isinstance(self._target, Exception):
                raise self._target
            return self._target

    eps = [_EP("good", Plugged), _EP("broken", ImportError("boom")), _EP("wrong", object)]
    monkeypatch.setattr(
        plugins.metadata, "entry_points", lambda group: eps if group == stores.ENTRY_POINT_GROUP else []
    )
    try:
        assert stores.load_entry_points(force=True) == ["plugged_store"]
        assert stores.get_store("plugged_store") is Plugged
    finally:
        stores._unregister("plugged_store")
