from __future__ import annotations

import json
import subprocess
import sys

from deletion_sdk.unlearning import get_unlearner, list_unlearners


def _run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "deletion_sdk.cli", *args], capture_output=True, text=True, check=False
    )


def test_unlearners_list_json_is_one_document_with_defaults() -> None:
    out = _run("unlearners", "list", "--json")
    assert out.returncode == 0, out.stderr
    rows = json.loads(out.stdout)  # one list shape for every list command: an array of objects
    assert [r["name"] for r in rows] == list_unlearners()
    for row in rows:
        cls = get_unlearner(row["name"])
        assert row["description"] == cls.description
        assert row["params"] == cls.Params().model_dump(mode="json")
        assert row["source"] == "builtin"
    scrub = next(r for r in rows if r["name"] == "scrub")
    assert scrub["params"]["temperature"] == get_unlearner("scrub").Params().model_dump()["temperature"]


def test_unlearners_list_human_table() -> None:
    out = _run("unlearners", "list")
    assert out.returncode == 0, out.stderr
    for name in ("retrain", "salun", "uniform_contrastive"):
        assert name in out.stdout
