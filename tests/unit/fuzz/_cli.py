"""Shared by the fuzz tests: the console script's main in-process, and what every failure must look like."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import HealthCheck, settings

from deletion_sdk.cli.app import main


def fuzz(max_examples: int) -> settings:
    """Pinned example counts, derandomized (the same examples every run), no deadline, no example database."""
    return settings(
        max_examples=max_examples,
        derandomize=True,
        database=None,
        deadline=None,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large, HealthCheck.filter_too_much],
    )


def run_cli(capsys: pytest.CaptureFixture[str], home: Path, *args: str) -> tuple[int, str, str]:
    """(exit code, stdout, stderr) of ``deletion-sdk --home HOME ARGS`` run in this process."""
    capsys.readouterr()
    with pytest.raises(SystemExit) as info:
        main(["--home", str(home), *args])
    out, err = capsys.readouterr()
    code = info.value.code
    return (code if isinstance(code, int) else 1), out, err


def assert_clean_failure(code: int, err: str, *, allowed: tuple[int, ...] = (1, 2)) -> None:
    """Never a traceback; a failure exits with an allowed code and says so in exactly one ``error:`` line."""
    assert "Traceback" not in err, err[-2000:]
    if code != 0:
        assert code in allowed, (code, err[-2000:])
        errors = [line for line in err.splitlines() if line.startswith("error: ")]
        assert len(errors) == 1, err[-2000:]
