"""Fuzzing dataset manifests: a manifest registers or is refused with one line, never hangs, writes nothing
when refused.

Examples per test (pinned): reader 60, ``datasets register`` CLI 10.
"""

from __future__ import annotations

import os
from io import BytesIO
from pathlib import Path

import pytest
import sqlalchemy as sa
from hypothesis import given
from hypothesis import strategies as st
from PIL import Image

from deletion_sdk.errors import ManifestError
from deletion_sdk.ledger import lineage
from deletion_sdk.ledger.subjects import SubjectKey
from tests.unit.fuzz._cli import assert_clean_failure, fuzz, run_cli

KEY = SubjectKey(bytes(range(32)))


def _png() -> bytes:
    out = BytesIO()
    Image.new("RGB", (3, 3), (1, 2, 3)).save(out, format="PNG")
    return out.getvalue()


def _dataset(tmp_path: Path) -> Path:
    """A dataset root holding every kind of file a manifest might point at."""
    root = tmp_path / "data"
    (root / "img").mkdir(parents=True)
    (root / "img" / "ok.png").write_bytes(_png())
    (root / "img" / "text.png").write_text("not an image\n")
    (root / "img" / "cut.png").write_bytes(_png()[:30])
    (tmp_path / "outside.png").write_bytes(_png())
    (root / "img" / "out.png").symlink_to(tmp_path / "outside.png")
    (root / "img" / "zero.png").symlink_to("/dev/zero")
    (root / "img" / "loop.png").symlink_to(root / "img" / "loop.png")
    os.mkfifo(root / "img" / "fifo.png")
    return root


paths = st.sampled_from(
    [
        "img/ok.png",
        "img/text.png",
        "img/cut.png",
        "img/out.png",
        "img/zero.png",
        "img/loop.png",
        "img/fifo.png",
        "img",
        "../outside.png",
        "img/../../outside.png",
        "/etc/passwd",
        "/dev/zero",
        "missing.png",
        "",
    ]
) | st.text(max_size=12)
cells = st.sampled_from(["e1", "e2", "alice", "30", "-1", "nan", "train", "holdout", "x", ""]) | st.text(
    max_size=8
)
rows = st.lists(st.tuples(cells, cells, paths, cells, cells), max_size=5)


def _write(root: Path, header: str, data: list[tuple[str, str, str, str, str]], tail: bytes) -> Path:
    text = header + "\n" + "\n".join(",".join(r) for r in data) + "\n"
    manifest = root / "manifest.csv"
    manifest.write_bytes(text.encode("utf-8", "surrogatepass") + tail)
    return manifest


headers = st.sampled_from(["example_id,subject_id,path,age,split", "example_id,subject_id,path,age", "path"])


def test_manifest_reader_registers_or_refuses_in_one_line(tmp_path: Path) -> None:
    root = _dataset(tmp_path)

    @fuzz(60)
    @given(header=headers, data=rows, tail=st.binary(max_size=16))
    def check(header: str, data: list[tuple[str, str, str, str, str]], tail: bytes) -> None:
        manifest = _write(root, header, data, tail)
        try:
            parsed = lineage.read_manifest(manifest, subject_key=KEY)
        except ManifestError as e:
            assert "\n" not in str(e)
            return
        assert parsed.examples and all(e.path in ("img/ok.png",) for e in parsed.examples)

    check()


def test_datasets_register_cli_refuses_in_one_line_and_writes_nothing(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    root = _dataset(tmp_path)
    home = tmp_path / "home"
    assert run_cli(capsys, home, "init")[0] == 0
    engine = sa.create_engine(f"sqlite:///{home / 'ledger.db'}")

    def counts() -> tuple[int, int]:
        with engine.connect() as conn:
            return (
                conn.exec_driver_sql("SELECT COUNT(*) FROM datasets").scalar_one(),
                conn.exec_driver_sql("SELECT COUNT(*) FROM examples").scalar_one(),
            )

    names = iter(range(1_000))

    @fuzz(10)
    @given(data=rows)
    def check(data: list[tuple[str, str, str, str, str]]) -> None:
        manifest = _write(root, "example_id,subject_id,path,age,split", data, b"")
        before = counts()
        code, _, err = run_cli(
            capsys, home, "datasets", "register", "--name", f"d{next(names)}", "--manifest", str(manifest)
        )
        assert_clean_failure(code, err, allowed=(2,))
        if code != 0:
            assert counts() == before

    try:
        check()
    finally:
        engine.dispose()
