from __future__ import annotations

import json
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
import structlog

from tests.cli_run import run_in_home as run
from tests.unit.cli._errors import json_error

SAMPLE = Path(__file__).resolve().parents[3] / "examples" / "data" / "sample_dataset"


@pytest.fixture(autouse=True)
def _reset_logging() -> Iterator[None]:
    yield
    structlog.reset_defaults()


def snapshot(home: Path) -> dict[str, list[Any]]:
    engine = sa.create_engine(f"sqlite:///{home / 'ledger.db'}")
    try:
        with engine.connect() as conn:
            tables = [r[0] for r in conn.exec_driver_sql("SELECT name FROM sqlite_master WHERE type='table'")]
            return {t: sorted(map(repr, conn.exec_driver_sql(f'SELECT * FROM "{t}"').all())) for t in tables}
    finally:
        engine.dispose()


def test_register_show_and_list_the_sample_dataset(capsys: pytest.CaptureFixture[str], home: Path) -> None:
    code, out, err = run(
        capsys,
        home,
        "datasets",
        "register",
        "--name",
        "sample",
        "--manifest",
        str(SAMPLE / "manifest.csv"),
        "--json",
    )
    assert code == 0, err
    record = json.loads(out)
    assert (record["name"], record["n_examples"], record["n_subjects"]) == ("sample", 12, 6)
    assert record["splits"] == {"holdout": 2, "train": 10}
    assert "@example.com" not in out
    code, out, _ = run(capsys, home, "datasets", "show", "sample", "--json")
    assert json.loads(out) == record
    code, out, _ = run(capsys, home, "datasets", "show", str(record["dataset_id"]), "--json")
    assert json.loads(out) == record
    code, out, _ = run(capsys, home, "datasets", "list", "--json")
    assert json.loads(out) == [record]
    code, out, _ = run(capsys, home, "datasets", "list")
    assert code == 0 and "sample" in out
    code, out, err = run(capsys, home, "datasets", "show", "nope")
    assert code == 2 and err == "error: Unknown dataset 'nope'. Known datasets: sample.\n"
    code, out, err = run(capsys, home, "datasets", "show", "sampel")
    assert code == 2 and err.endswith("Known datasets: sample. Did you mean 'sample'?\n")


@pytest.mark.parametrize(
    ("mutate", "message"),
    [
        (
            lambda text: text.replace(
                "example_id,subject_id,path,age,split", "example_id,subject_id,path,split"
            ),
            "missing column(s) age",
        ),
        (
            lambda text: text.replace("ex-012,", "ex-001,"),
            ":13: duplicate example_id 'ex-001' (first on line 2)",
        ),
        (
            lambda text: text.replace("face_003.png", "face_999.png"),
            ":4: file not found: images/face_999.png",
        ),
        (lambda text: text.replace(",43,", ",old,"), ":4: age must be"),
    ],
)
def test_bad_manifest_exits_2_and_changes_nothing(
    capsys: pytest.CaptureFixture[str], home: Path, tmp_path: Path, mutate: Any, message: str
) -> None:
    data = tmp_path / "data"
    shutil.copytree(SAMPLE, data)
    manifest = data / "manifest.csv"
    manifest.write_text(mutate(manifest.read_text()))
    run(capsys, home, "init")
    before = snapshot(home)
    code, out, err = run(
        capsys, home, "datasets", "register", "--name", "bad", "--manifest", str(manifest), "--json"
    )
    assert (code, out) == (2, "")
    assert message in json_error(err)["message"]
    assert len(err.splitlines()) == 1 and "Traceback" not in err
    assert "@example.com" not in err
    assert snapshot(home) == before


def test_suppressed_subject_is_refused(capsys: pytest.CaptureFixture[str], home: Path) -> None:
    from deletion_sdk.ledger import lineage
    from deletion_sdk.sdk import DeletionSDK

    with DeletionSDK.open(home=home) as sdk, sdk.ledger.session() as session:
        lineage.suppress(session, subject_ref=sdk.subject_ref(subject="bob@example.com"), reason="erased")
    before = snapshot(home)
    code, _, err = run(
        capsys, home, "datasets", "register", "--name", "s", "--manifest", str(SAMPLE / "manifest.csv")
    )
    assert code == 1 and "2 example(s) of 1 erased subject(s) on the suppression list: ex-003, ex-004" in err
    assert snapshot(home) == before
