"""The CLI as a person and a script use it: whole ids, prefixes, --version, completion, no silent HOME,
the subject from stdin, known names, JSON errors, one list shape."""

from __future__ import annotations

import io
import itertools
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from deletion_sdk import __version__
from deletion_sdk.cli import _common
from deletion_sdk.sdk import DeletionSDK
from tests.unit.cli._errors import json_error
from tests.unit.cli.test_requests_cli import run

RAW = "dana.example@example.org"


def _submit(capsys: pytest.CaptureFixture[str], home: Path, subject: str) -> str:
    args = ("requests", "submit", "--subject", subject, "--policy", "gdpr-art17", "--json")
    code, out, err = run(capsys, home, *args)
    assert code == 0, err
    return str(json.loads(out)["request_id"])


def test_version_option(capsys: pytest.CaptureFixture[str], home: Path) -> None:
    code, out, err = run(capsys, home, "--version")
    assert (code, out, err) == (0, f"deletion-sdk {__version__}\n", "")
    assert not home.exists()


def test_shell_completion_script_and_completions(home: Path) -> None:
    cli = [sys.executable, "-m", "deletion_sdk.cli"]
    # The shell is detected from the parent processes (bash here, `sh` under make in CI); typer's own switch
    # lets the test name it instead.
    named = {**os.environ, "_TYPER_COMPLETE_TEST_DISABLE_SHELL_DETECTION": "1"}
    script = subprocess.run(
        [*cli, "--show-completion", "bash"], capture_output=True, text=True, env=named, check=False
    )
    assert script.returncode == 0 and "_DELETION_SDK_COMPLETE" in script.stdout, script.stderr
    env = {
        **os.environ,
        "_DELETION_SDK_COMPLETE": "complete_bash",
        "COMP_WORDS": "deletion-sdk req",
        "COMP_CWORD": "1",
    }
    done = subprocess.run(cli, capture_output=True, text=True, env=env, check=False)
    assert done.stdout.split() == ["requests"], done.stdout + done.stderr


@pytest.mark.parametrize(
    "args",
    [
        ["requests", "list"],
        ["requests", "overdue"],
        ["requests", "show", "abcd1234"],
        ["batch", "list"],
        ["batch", "show", "abcd1234"],
        ["report", "abcd1234"],
        ["datasets", "list"],
        ["datasets", "show", "faces"],
        ["models", "list"],
        ["models", "show", "1"],
    ],
)
def test_read_only_commands_refuse_a_missing_home(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, args: list[str]
) -> None:
    typo = tmp_path / "hoem"  # a mistyped HOME must not answer "0 requests" from a new, empty deployment
    code, out, err = run(capsys, typo, *args)
    assert (code, out) == (2, "")
    assert "deletion-sdk init" in err and str(typo) in err and len(err.splitlines()) == 1
    assert not typo.exists()
    code, _, err = run(capsys, typo, *args, "--json")
    assert code == 2 and json_error(err)["type"] == "ConfigurationError"
    assert not typo.exists()


def test_subject_from_stdin_stays_out_of_the_command_line(
    capsys: pytest.CaptureFixture[str], home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(sys, "stdin", io.StringIO(RAW + "\n"))
    code, out, err = run(capsys, home, "requests", "submit", "--subject", "-", "--policy", "ccpa", "--json")
    assert code == 0, err
    doc = json.loads(out)
    with DeletionSDK.open(home=home) as sdk:  # the same person as if given on the command line
        assert doc["subject_ref"] == sdk.subject_ref(subject=RAW)
    assert RAW not in out + err
    monkeypatch.setattr(sys, "stdin", io.StringIO(""))
    code, out, err = run(capsys, home, "requests", "submit", "--subject", "-", "--policy", "ccpa")
    assert (code, out) == (2, "") and "stdin held no value" in err

    class Unreadable(io.StringIO):
        def readline(self, size: int | None = -1) -> str:
            raise OSError("reading from stdin while output is captured")

    monkeypatch.setattr(sys, "stdin", Unreadable())
    code, out, err = run(capsys, home, "requests", "submit", "--subject", "-", "--policy", "ccpa")
    assert (code, out) == (2, "") and len(err.splitlines()) == 1
    assert "stdin could not be read (OSError)" in err


def test_ids_are_whole_outside_a_terminal(capsys: pytest.CaptureFixture[str], home: Path) -> None:
    rid = _submit(capsys, home, RAW)
    code, out, _ = run(capsys, home, "requests", "list")
    assert code == 0 and rid in out and "…" not in out
    with DeletionSDK.open(home=home) as sdk:
        assert sdk.subject_ref(subject=RAW) in out
    assert out.rstrip().endswith("1 request")


def test_ids_are_whole_in_a_narrow_terminal(
    capsys: pytest.CaptureFixture[str], home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    rid = _submit(capsys, home, RAW)
    monkeypatch.setattr(_common, "is_terminal", lambda: True)
    monkeypatch.setenv("COLUMNS", "100")  # rich sizes the (captured) terminal from COLUMNS
    code, out, _ = run(capsys, home, "requests", "list")
    assert code == 0 and rid in out  # the reference is what gets shortened
    assert max(len(line) for line in out.splitlines()) <= 100


def test_every_id_argument_takes_a_unique_prefix(capsys: pytest.CaptureFixture[str], home: Path) -> None:
    rid = _submit(capsys, home, RAW)
    code, out, err = run(capsys, home, "requests", "show", rid[:8], "--json")
    assert code == 0, err
    assert json.loads(out)["request_id"] == rid
    code, out, err = run(capsys, home, "requests", "verify", rid[:6].upper(), "--json")
    assert code == 0 and json.loads(out)["status"] == "verified", err
    code, out, err = run(capsys, home, "requests", "cancel", rid[:5], "--reason", "withdrawn", "--json")
    assert code == 0 and json.loads(out)["status"] == "cancelled", err
    # too short to be safe, or matching nothing: refused, nothing acted on
    code, _, err = run(capsys, home, "requests", "show", rid[:3])
    assert code == 2 and "at least 4 characters" in err
    code, _, err = run(capsys, home, "requests", "show", "ffff-no-such")
    assert code == 2 and "no deletion request with id or id prefix 'ffff-no-such'" in err


def test_an_ambiguous_prefix_lists_the_candidates(
    capsys: pytest.CaptureFixture[str], home: Path, tmp_path: Path
) -> None:
    rows = "\n".join(f"p{i}@example.org,ccpa" for i in range(1500))
    (tmp_path / "many.csv").write_text("subject,policy\n" + rows + "\n")
    code, _, err = run(capsys, home, "requests", "import", str(tmp_path / "many.csv"))
    assert code == 0, err
    with DeletionSDK.open(home=home) as sdk:
        before = [(r.request_id, r.status) for r in sdk.list_requests()]
    ids = sorted(rid for rid, _ in before)
    # 1,500 random UUIDs share a 4-character prefix somewhere with probability 1 - 3e-8
    shared = next(a[:4] for a, b in itertools.pairwise(ids) if a[:4] == b[:4])
    code, out, err = run(capsys, home, "requests", "deny", shared, "--reason", "x", "--json")
    assert (code, out) == (2, "")
    error = json_error(err)
    assert "matches more than one" in error["message"] and error["type"] == "InputError"
    assert sum(i.startswith(shared) for i in ids) >= 2
    assert all(i in error["message"] for i in ids if i.startswith(shared))
    with DeletionSDK.open(home=home) as sdk:
        assert [(r.request_id, r.status) for r in sdk.list_requests()] == before


def test_unknown_names_are_answered_with_the_known_ones(
    capsys: pytest.CaptureFixture[str], home: Path
) -> None:
    run(capsys, home, "init")
    code, _, err = run(capsys, home, "batch", "run", "--model", "age-predcitor")
    assert code == 2 and "Unknown model 'age-predcitor'. Known models: none yet" in err
    assert "deletion-sdk models train" in err
    code, _, err = run(capsys, home, "models", "list", "--name", "nope")
    assert code == 2 and "Unknown model 'nope'" in err
    code, _, err = run(capsys, home, "models", "train", "--dataset", "nope")
    assert code == 2 and "Unknown dataset 'nope'. Known datasets: none yet" in err
    code, _, err = run(capsys, home, "requests", "submit", "--subject", RAW, "--policy", "gdpr")
    assert code == 2 and "Known policies: ccpa, gdpr-art17, strict" in err


def test_json_errors_are_one_json_object_on_stderr(capsys: pytest.CaptureFixture[str], home: Path) -> None:
    run(capsys, home, "init")
    code, out, err = run(capsys, home, "requests", "show", "abcd-nothing", "--json")
    assert (code, out) == (2, "")
    assert json_error(err) == {
        "type": "NotFoundError",
        "message": "no deletion request with id or id prefix 'abcd-nothing'",
        "exit_code": 2,
    }
    code, out, err = run(capsys, home, "requests", "list", "--json", "--bogus")
    assert (code, out) == (2, "") and json_error(err)["type"] == "UsageError"
    code, _, err = run(capsys, home, "requests", "show", "abcd-nothing")  # without --json: one plain line
    assert err == "error: no deletion request with id or id prefix 'abcd-nothing'\n"


def test_every_list_command_has_one_shape(capsys: pytest.CaptureFixture[str], home: Path) -> None:
    _submit(capsys, home, RAW)
    for args in (
        ["requests", "list"],
        ["requests", "overdue"],
        ["batch", "list"],
        ["datasets", "list"],
        ["models", "list"],
        ["policies", "list"],
        ["unlearners", "list"],
    ):
        code, out, err = run(capsys, home, *args, "--json")
        assert code == 0, (args, err)
        doc = json.loads(out)
        assert isinstance(doc, list) and all(isinstance(item, dict) for item in doc), args
        code, out, _ = run(capsys, home, *args)
        last = out.rstrip().splitlines()[-1]
        assert last.split()[0] == str(len(doc)), (args, last)
