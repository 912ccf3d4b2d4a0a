"""``deletion-sdk policies list|check`` through the real entry point: exit 0 on success, 2 on a bad file."""

from __future__ import annotations

import hashlib
import json
import re
from pathlib import Path

import pytest

from deletion_sdk.policy import load_policy
from deletion_sdk.policy.loader import BUILTIN_POLICY_DIR
from tests.cli_run import run_cli as run
from tests.unit.cli._errors import json_error

BUILTINS = ["ccpa", "gdpr-art17", "strict"]


def _house(directory: Path, *, name: str = "house", edit: tuple[str, str] | None = None) -> Path:
    """A copy of the built-in CCPA policy under another id; ``edit=(key, value)`` sets the first ``key:``
    line to ``value`` (whatever the built-in file holds there today)."""
    text = (BUILTIN_POLICY_DIR / "ccpa.yaml").read_text()
    text = re.sub(r"^id: .*$", "id: house", text, count=1, flags=re.M)
    if edit is not None:
        key, value = edit
        text, count = re.subn(
            rf"^(\s*){re.escape(key)}:.*$", rf"\g<1>{key}: {value}", text, count=1, flags=re.M
        )
        assert count == 1, f"the built-in policy has no '{key}:' line"
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / f"{name}.yaml"
    path.write_text(text)
    return path


def _line_of(path: Path, fragment: str) -> int:
    return next(i for i, line in enumerate(path.read_text().splitlines(), 1) if fragment in line)


def test_list_shows_the_builtin_policies(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = run(capsys, "policies", "list", "--json")
    assert code == 0, err
    rows = json.loads(out)
    assert [r["id"] for r in rows] == BUILTINS
    for row in rows:
        assert (
            row["digest"]
            == hashlib.sha256((BUILTIN_POLICY_DIR / f"{row['id']}.yaml").read_bytes()).hexdigest()
        )
        policy = load_policy(row["id"])  # the CLI shows what the library loads
        assert (row["title"], row["tier"], row["methods"]) == (
            policy.title,
            policy.verification.tier.value,
            list(policy.unlearning.methods),
        )
        assert row["deadline"] == policy.deadline.response.describe()

    code, out, _ = run(capsys, "policies", "list")
    assert code == 0 and all(policy_id in out for policy_id in BUILTINS)


def test_list_adds_an_extra_directory_which_overrides_a_builtin(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    extra = tmp_path / "policies"
    _house(extra)
    override = _house(extra, name="gdpr-art17", edit=("id", "gdpr-art17"))
    code, out, err = run(capsys, "policies", "list", "--dir", str(extra), "--json")
    assert code == 0, err
    rows = {r["id"]: r for r in json.loads(out)}
    assert sorted(rows) == sorted([*BUILTINS, "house"])
    assert rows["gdpr-art17"]["digest"] == hashlib.sha256(override.read_bytes()).hexdigest()
    # the deployment's file (a copy of CCPA's terms), not the built-in GDPR one
    assert (rows["gdpr-art17"]["title"], rows["gdpr-art17"]["deadline"]) == (
        rows["ccpa"]["title"],
        rows["ccpa"]["deadline"],
    )

    monkeypatch.setenv("DELETION_SDK_POLICY_DIR", str(extra))  # the deployment's setting, without --dir
    code, out, _ = run(capsys, "policies", "list", "--json")
    assert code == 0 and "house" in {r["id"] for r in json.loads(out)}


def test_check_accepts_a_valid_file(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    path = _house(tmp_path)
    code, out, err = run(capsys, "policies", "check", str(path), "--json")
    assert code == 0, err
    doc = json.loads(out)
    assert doc["valid"] is True and doc["id"] == "house"
    assert doc["digest"] == hashlib.sha256(path.read_bytes()).hexdigest()
    code, out, _ = run(capsys, "policies", "check", str(path))
    assert code == 0 and out.startswith(f"ok: {path} is a valid policy 'house'")


@pytest.mark.parametrize(
    ("edit", "field"),
    [
        (("tier", "bogus"), "verification.tier"),
        (("max_attack_auc", "1.65"), "verification.thresholds.max_attack_auc"),
        (("response", "{days: -45}"), "deadline.response.days"),
        (("id", "someone-else"), "id"),
    ],
    ids=["enum", "threshold-range", "negative-deadline", "id-not-file-name"],
)
def test_check_names_the_line_and_field_of_a_malformed_file(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, edit: tuple[str, str], field: str
) -> None:
    path = _house(tmp_path, edit=edit)
    fragment = f"{edit[0]}: {edit[1]}"
    code, out, err = run(capsys, "policies", "check", str(path), "--json")
    assert code == 2 and out == ""
    assert json_error(err)["message"].startswith(f"{path}:{_line_of(path, fragment)}: field '{field}': "), err
    assert len(err.strip().splitlines()) == 1 and "Traceback" not in err


def test_check_rejects_yaml_errors_and_missing_files(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    broken = _house(tmp_path, edit=("max_extensions", "[1"))
    code, _, err = run(capsys, "policies", "check", str(broken))
    assert code == 2 and err.startswith(f"error: {broken}:") and "not valid YAML" in err

    scalar = tmp_path / "scalar.yaml"
    scalar.write_text("just a string\n")
    code, _, err = run(capsys, "policies", "check", str(scalar))
    assert code == 2 and err.startswith(f"error: {scalar}:1: a policy must be a YAML mapping")

    code, _, err = run(capsys, "policies", "check", str(tmp_path / "absent.yaml"))
    assert code == 2 and "cannot read policy file" in err


def test_list_fails_on_a_malformed_file_in_the_directory(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    path = _house(tmp_path / "policies", edit=("tier", "bogus"))
    code, out, err = run(capsys, "policies", "list", "--dir", str(path.parent), "--json")
    assert code == 2 and out == ""
    assert json_error(err)["message"].startswith(f"{path}:") and "verification.tier" in err
