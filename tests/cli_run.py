"""The console script's ``main`` run in-process by the CLI tests: (exit code, stdout, stderr)."""

from __future__ import annotations

from pathlib import Path

import pytest

from deletion_sdk.cli.app import main


def run_cli(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    """``deletion-sdk ARGS``; output printed before the call is discarded. ``sys.exit(text)`` counts as 1."""
    capsys.readouterr()
    with pytest.raises(SystemExit) as info:
        main(list(args))
    out, err = capsys.readouterr()
    code = info.value.code
    return (0 if code is None else code if isinstance(code, int) else 1), out, err


def run_in_home(capsys: pytest.CaptureFixture[str], home: Path, *args: str) -> tuple[int, str, str]:
    """``deletion-sdk --home HOME ARGS`` (see :func:`run_cli`)."""
    return run_cli(capsys, "--home", str(home), *args)
