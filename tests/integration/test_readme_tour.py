"""The README's five-minute tour, run exactly as written (in a scratch directory)."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow
README = Path(__file__).resolve().parents[2] / "README.md"


def tour_script() -> str:
    text = README.read_text()
    block = re.search(r"<!-- tour:start -->\s*```bash\n(.*?)```\s*<!-- tour:end -->", text, re.S)
    assert block is not None, "the README lost its tour block"
    return block.group(1)


def test_readme_tour_runs_as_written(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("DELETION_SDK_")}
    env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}"
    out = subprocess.run(
        ["bash", "-euo", "pipefail", "-c", tour_script()],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=1200,
    )
    assert out.returncode == 0, out.stdout[-4000:] + out.stderr[-4000:]
    assert "completed" in out.stdout
    assert list((tmp_path / ".tour" / "certificates").glob("*.intoto.json"))
    assert list((tmp_path / ".tour" / "reports").glob("*.html"))
    ledger = (tmp_path / ".tour" / "ledger.db").read_bytes()
    for line in (tmp_path / ".tour-data" / "requests.csv").read_text().splitlines()[1:]:
        assert line.split(",")[0].encode() not in ledger
