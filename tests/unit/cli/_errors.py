"""Reading the one error a CLI run reports on stderr under ``--json``."""

from __future__ import annotations

import json
from typing import Any


def json_error(err: str) -> dict[str, Any]:
    """The ``error`` object of stderr, which must be exactly one JSON line (``--json`` mode)."""
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    doc = json.loads(lines[0])
    assert set(doc) == {"error"} and {"type", "message", "exit_code"} <= set(doc["error"]), doc
    return dict(doc["error"])
