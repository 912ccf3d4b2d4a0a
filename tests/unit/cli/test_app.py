from __future__ import annotations

import json
import subprocess
import sys


def _run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "deletion_sdk.cli", *args], capture_output=True, text=True, check=False
    )


def test_version_json_is_one_document() -> None:
    out = _run("version", "--json")
    assert out.returncode == 0
    assert set(json.loads(out.stdout)) == {"version"}


def test_unknown_command_is_usage_error_with_one_line() -> None:
    out = _run("no-such-command")
    assert out.returncode == 2
    assert out.stderr.startswith("error: ")
    assert len(out.stderr.strip().splitlines()) == 1
    assert "Traceback" not in out.stderr
